using Pipeline.Trainer;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.EndToEnd;

/// <summary>A CSV dropped into <c>raw/</c> becomes a served model with nothing else done: Event Grid stand-in → Preprocess → queue → trainer → Predict.</summary>
[Collection(PipelineTests.Name)]
public class PipelineEndToEndTests(PipelineFixture pipeline)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private BlobContainerClient Raw => pipeline.Blobs.GetBlobContainerClient(StorageNames.RawContainer);

    [Fact]
    public async Task UploadedCsv_IsServed_AndPredictsHeldOutRowsAccurately()
    {
        var name = Azurite.UniqueName(PipelineFixture.DatasetPrefix + "iris-like");
        var (csv, _) = SyntheticData.ThreeClass(1200, seed: 42);
        await Raw.UploadBlobAsync($"{name}/mydata.csv", BinaryData.FromString(csv), Cancellation);

        var model = await WaitForModelAsync(name, versions: 1);
        Assert.Equal("classification", model["current"]!["task"]!.GetValue<string>());

        // The gate's record: every candidate measured, every built artifact published, the served one named in the manifest.
        var quantization = model["current"]!["quantization"]!;
        var candidates = quantization["candidates"]!.AsArray();
        // A network is quantized into three int8 candidates; a tree ensemble has no weight matrices to quantize, and a
        // large one is offered a distilled MLP student instead.
        var names = candidates.Select(c => c!["name"]!.GetValue<string>()).ToList();
        if (model["current"]!["training"]!["family"]!.GetValue<string>() is "gbdt" or "rf")
        {
            Assert.Equal("fp32", names[0]);
            Assert.All(names.Skip(1), n => Assert.Equal(TrainingJob.DistilledCandidate, n));
        }
        else
        {
            Assert.Equal(["fp32", "int8-qdq-per-channel", "int8-qdq-per-tensor", "int8-dynamic"], names);
        }

        var served = candidates.Single(c => c!["name"]!.GetValue<string>() == quantization["served"]!.GetValue<string>())!;
        Assert.Equal(served["artifact"]!.GetValue<string>(), model["current"]!["artifact"]!.GetValue<string>());
        var version = model["current"]!["version"]!.GetValue<string>();
        foreach (var candidate in candidates)
        {
            if (names.Count > 1)
            {
                // The gate measured the candidates it compared.
                Assert.True(candidate!["latencyBatch1Microseconds"]!.GetValue<double>() > 0);
            }

            var blob = pipeline.Blobs.GetBlobContainerClient(StorageNames.ModelsContainer).GetBlobClient($"{name}/{version}/{candidate!["artifact"]!.GetValue<string>()}");
            var stored = (await blob.GetPropertiesAsync(cancellationToken: Cancellation)).Value.ContentLength;
            Assert.True(candidate["bytes"]!.GetValue<long>() == stored, $"{blob.Name}: manifest says {candidate["bytes"]} bytes, the blob has {stored}; manifest: {model["current"]!.ToJsonString()}");
        }

        var (_, heldOut) = SyntheticData.ThreeClass(300, seed: 4242, withNoiseColumns: false);
        var rows = new JsonArray(heldOut.Select(r => (JsonNode)new JsonObject
        {
            ["f1"] = r.Features[0], ["f2"] = r.Features[1], ["f3"] = r.Features[2], ["f4"] = r.Features[3],
        }).ToArray());
        using var response = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict", new JsonObject { ["rows"] = rows }, Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;
        Assert.Equal(name, body["model"]!.GetValue<string>());
        var predictions = body["predictions"]!.AsArray();
        Assert.Equal(heldOut.Count, predictions.Count);
        var correct = heldOut.Zip(predictions).Count(p => p.First.Label == p.Second!["label"]!.GetValue<string>());
        var accuracy = (double)correct / heldOut.Count;
        Assert.True(accuracy >= 0.9, $"held-out accuracy {accuracy:P1}");
        var probabilities = predictions[0]!["probabilities"]!.AsObject();
        Assert.Equal(SyntheticData.Classes.Order(), probabilities.Select(p => p.Key).Order());
        Assert.Equal(1.0, probabilities.Sum(p => p.Value!.GetValue<double>()), 3);
    }

    [Fact]
    public async Task SameBytesAgain_MakeNoSecondVersion_GarbageIsReported_AndTheNextGoodUploadStillTrains()
    {
        var name = Azurite.UniqueName(PipelineFixture.DatasetPrefix + "resilient");
        var (csv, _) = SyntheticData.ThreeClass(400, seed: 1);
        await Raw.UploadBlobAsync($"{name}/day1.csv", BinaryData.FromString(csv), Cancellation);
        var first = (await WaitForModelAsync(name, versions: 1))["current"]!["version"]!.GetValue<string>();

        // The same bytes again, as a real host would deliver the event: the function returns no training request.
        await Raw.GetBlobClient($"{name}/day1.csv").UploadAsync(BinaryData.FromString(csv), overwrite: true, Cancellation);
        var reply = await Invocations.PreprocessAsync(pipeline.Preprocessing, $"{name}/day1.csv");
        Assert.Null(reply.TrainRequest);
        Assert.Equal(Pipeline.Preprocessing.PreprocessResult.Duplicate, reply.Result);

        // Garbage: a rejection report, no crash, the message completes.
        var garbage = new byte[3000];
        new Random(5).NextBytes(garbage);
        await Raw.UploadBlobAsync($"{name}/broken.csv", new BinaryData(garbage), Cancellation);
        var report = await WaitForAsync(async () =>
        {
            await foreach (var item in pipeline.Blobs.GetBlobContainerClient(StorageNames.DatasetsContainer)
                .GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{name}/{StorageNames.RejectionsFolder}/" }, Cancellation))
            {
                var content = await pipeline.Blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(item.Name).DownloadContentAsync(Cancellation);
                return JsonNode.Parse(content.Value.Content.ToString());
            }

            return null;
        });
        Assert.Equal("binary-content", report["reason"]!.GetValue<string>());
        Assert.EndsWith("broken.csv", report["blob"]!.GetValue<string>(), StringComparison.Ordinal);

        // The model trained before the garbage still answers, from a row copied from the file (its label included).
        var lines = csv.Split('\n');
        var row = new JsonObject();
        foreach (var (column, value) in lines[0].Split(',').Zip(lines[1].Split(',')))
        {
            row[column] = double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : value;
        }

        using var served = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict", new JsonObject { ["rows"] = new JsonArray(row) }, Cancellation);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(first, JsonNode.Parse(await served.Content.ReadAsStringAsync(Cancellation))!["version"]!.GetValue<string>());

        // A new good file still trains: a second version.
        var (csv2, _) = SyntheticData.ThreeClass(400, seed: 2);
        await Raw.UploadBlobAsync($"{name}/day2.csv", BinaryData.FromString(csv2), Cancellation);
        var model = await WaitForModelAsync(name, versions: 2);
        Assert.Equal(2, model["versions"]!.AsArray().Count);
        Assert.Empty(await ListAsync(StorageNames.Poison(StorageNames.BlobCreatedQueue)));
    }

    [Fact]
    public async Task CategoricalBooleanAndDateColumns_InACompressedJsonLinesFile_AreServedFromRawValues()
    {
        var name = Azurite.UniqueName(PipelineFixture.DatasetPrefix + "categorical");
        string[] colours = ["red", "blue", "green"];
        string[] classes = ["alpha", "beta", "gamma"];
        var random = new Random(8);
        string Row(int k, bool noisy) =>
            $"{{\"colour\":\"{colours[noisy && random.NextDouble() < 0.1 ? random.Next(3) : k]}\",\"member\":{(k == 1 ? "true" : "false")}," +
            $"\"joined\":\"2024-{1 + random.Next(12):D2}-{1 + random.Next(28):D2}\",\"score\":{(k * 2) + SyntheticData.Gaussian(random):F3}," +
            $"\"note\":\"free text number {random.Next()} about this row\"}}";
        var lines = new StringBuilder();
        for (var i = 0; i < 900; i++)
        {
            var k = random.Next(3);
            lines.Append(Row(k, noisy: true)[..^1]).Append(",\"label\":\"").Append(classes[k]).Append("\"}\n");
        }

        await Raw.UploadBlobAsync($"{name}/export.jsonl.gz", new BinaryData(SyntheticData.Gzip(Encoding.UTF8.GetBytes(lines.ToString()))), Cancellation);
        var model = await WaitForModelAsync(name, versions: 1);
        var encodings = model["current"]!["encodings"]!.AsArray();
        Assert.Equal(["categorical", "boolean", "datetime", "numeric"], encodings.Select(e => e!["kind"]!.GetValue<string>()));
        Assert.Equal(["label", "note"], model["current"]!["ignoredColumns"]!.AsArray().Select(c => c!.GetValue<string>()));

        var expected = new List<string>();
        var rows = new JsonArray();
        for (var i = 0; i < 150; i++)
        {
            var k = random.Next(3);
            expected.Add(classes[k]);
            rows.Add(JsonNode.Parse(Row(k, noisy: false)));
        }

        // Rows as in the file carry the free-text note the model left out (and this one the label): both are ignored.
        rows.Add(JsonNode.Parse("""{"colour":"ultraviolet","member":null,"joined":"2025-01-01","score":0.5,"label":"beta"}"""));
        using var response = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict", new JsonObject { ["rows"] = rows }, Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var predictions = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!["predictions"]!.AsArray();
        var accuracy = (double)expected.Zip(predictions).Count(p => p.First == p.Second!["label"]!.GetValue<string>()) / expected.Count;
        Assert.True(accuracy >= 0.9, $"accuracy from raw categorical values {accuracy:P1}");
        Assert.Contains(predictions[^1]!["label"]!.GetValue<string>(), classes);

        using var wrong = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict",
            new JsonObject { ["rows"] = new JsonArray(JsonNode.Parse("""{"colour":"red","member":"maybe","joined":"2025-01-01","score":1}""")) }, Cancellation);
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);

        // A column the data never had is still a mistake worth a 400 (a misspelt feature would otherwise go unnoticed).
        using var misspelt = await pipeline.ServingClient.PostAsJsonAsync($"/api/models/{name}/predict",
            new JsonObject { ["rows"] = new JsonArray(JsonNode.Parse("""{"colour":"red","member":true,"joined":"2025-01-01","score":1,"scroe":1}""")) }, Cancellation);
        Assert.Equal(HttpStatusCode.BadRequest, misspelt.StatusCode);
        Assert.Contains("Unknown feature", await misspelt.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
    }

    private async Task<List<string>> ListAsync(string queueName)
    {
        var queue = pipeline.Queues.GetQueueClient(queueName);
        if (!(await queue.ExistsAsync(Cancellation)).Value)
        {
            return [];
        }

        var messages = await queue.PeekMessagesAsync(32, Cancellation);
        return messages.Value.Select(m => m.Body.ToString()).ToList();
    }

    private Task<JsonNode> WaitForModelAsync(string name, int versions) => WaitForAsync(async () =>
    {
        using var response = await pipeline.ServingClient.GetAsync(new Uri($"/api/models/{name}", UriKind.Relative), Cancellation);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        var model = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancellation))!;
        // A version folder can be listed before current.json names it (promotion comes last): wait for both.
        return model["versions"]!.AsArray().Count >= versions && model["current"] is JsonObject ? model : null;
    });

    private async Task<JsonNode> WaitForAsync(Func<Task<JsonNode?>> probe)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            await Task.Delay(250, Cancellation);
        }

        var poison = await ListAsync(StorageNames.Poison(StorageNames.TrainRequestsQueue));
        Assert.Fail($"Nothing after {Patience}. train-requests-poison: {string.Join(" | ", poison)}");
        return null!;
    }
}
