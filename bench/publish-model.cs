#!/usr/bin/env -S dotnet run
// Publishes the benchmark model, a seeded 20 → 64 → 64 → 3 MLP exported with the project's own exporter, to Azurite (or
// the storage in $STORAGE): models/{name}/v1/model.onnx + manifest.json + current.json; writes the same layout under
// bench/out/models/ (the "local disk" case) and a request body of <rows> rows to bench/out/body-<rows>.json.
//   dotnet run bench/publish-model.cs -- [model-name] [rows-per-request]
#:project ../training-container/Pipeline.Training/Pipeline.Training.csproj
#:property TreatWarningsAsErrors=false
using System.Globalization;
using System.Text;
using Azure.Storage.Blobs;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Storage;

var name = args.Length > 0 ? args[0] : "bench";
var rows = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
var random = new Random(42);
string[] features = [.. Enumerable.Range(1, 20).Select(i => $"f{i}")];
float[] Weights(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
var definition = new MlpDefinition(MlpTask.Classification, features, new float[20], [.. Enumerable.Repeat(1f, 20)],
    [new DenseLayer(20, 64, Weights(20 * 64), Weights(64)), new DenseLayer(64, 64, Weights(64 * 64), Weights(64)), new DenseLayer(64, 3, Weights(64 * 3), Weights(3))],
    ["a", "b", "c"]);
var onnx = OnnxMlpExporter.Export(definition);

var connection = Environment.GetEnvironmentVariable("STORAGE") ?? "UseDevelopmentStorage=true";
var container = new BlobServiceClient(connection).GetBlobContainerClient(StorageNames.ModelsContainer);
await container.CreateIfNotExistsAsync();
await container.GetBlobClient($"{name}/v1/{StorageNames.ModelFile}").UploadAsync(new BinaryData(onnx), overwrite: true);
var manifest = new ModelManifest
{
    Model = name, Version = "v1", Task = TaskKind.Classification, Features = [.. features], Labels = ["a", "b", "c"],
    InputName = OnnxContract.InputName, OutputName = OnnxContract.ProbabilitiesOutput, CreatedAt = DateTimeOffset.UtcNow,
};
await BlobJson.WriteAsync(container.GetBlobClient(StorageNames.ModelManifestPath(name, "v1")), manifest, PipelineJson.Default.ModelManifest, null, default);
await BlobJson.WriteAsync(container.GetBlobClient(StorageNames.CurrentPointerPath(name)), new CurrentPointer { Version = "v1" }, PipelineJson.Default.CurrentPointer, null, default);

var outDir = Path.Combine(AppContext.GetData("EntryPointFileDirectoryPath") as string ?? ".", "out");
Directory.CreateDirectory(outDir);
var local = Path.Combine(outDir, "models", name);
Directory.CreateDirectory(Path.Combine(local, "v1"));
File.WriteAllBytes(Path.Combine(local, "v1", StorageNames.ModelFile), onnx);
File.WriteAllBytes(Path.Combine(local, "v1", StorageNames.ManifestFile), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, PipelineJson.Default.ModelManifest));
File.WriteAllBytes(Path.Combine(local, StorageNames.CurrentPointerFile), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new CurrentPointer { Version = "v1" }, PipelineJson.Default.CurrentPointer));
var body = new StringBuilder("{\"rows\":[");
for (var r = 0; r < rows; r++)
{
    body.Append(r > 0 ? ",{" : "{");
    body.Append(string.Join(',', features.Select(f => $"\"{f}\":{(random.NextDouble() * 4 - 2).ToString("F4", CultureInfo.InvariantCulture)}")));
    body.Append('}');
}

File.WriteAllText(Path.Combine(outDir, $"body-{rows}.json"), body.Append("]}").ToString());
Console.WriteLine($"published models/{name}/v1 ({onnx.Length} bytes) to storage and {local}; wrote body-{rows}.json");
