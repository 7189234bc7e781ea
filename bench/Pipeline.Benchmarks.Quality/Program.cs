// The quality and speed benchmark of the trainer (bench/quality/run.sh runs it; results in docs/benchmarks.md).
//
//   quality <datasets> <out> [--seeds 1,2,3] [--only a,b]
//       For every <datasets>/<name>/data.csv (+ dataset.json) and seed: upload it to raw/ in Azurite, run the preprocess
//       handler (split seed = the seed) and the training job with the production defaults, record the served model's test
//       metric, and write the encoded train/validation/test splits to <out>/splits/<run>/ for bench/quality/peer.py.
//   speed [--rows 100000] [--columns-out <file>]
//       A seeded mixed CSV (14 numeric, 3 count, 3 categorical, 2 boolean, 1 datetime, 1 amount column, 3-class label) of
//       that many rows, uploaded, preprocessed and trained with the production defaults; prints the seconds of each stage.
//
// Azurite must answer at AZURITE_CONNECTION_STRING (default UseDevelopmentStorage=true). Every run has a deadline.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing;
using Pipeline.Storage;
using Pipeline.Trainer;

var connection = Environment.GetEnvironmentVariable("AZURITE_CONNECTION_STRING") is { Length: > 0 } value ? value : "UseDevelopmentStorage=true";
var runDeadline = TimeSpan.FromMinutes(10);
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var tag = Convert.ToHexStringLower(BitConverter.GetBytes(Environment.TickCount64))[..6];

return args switch
{
    ["quality", var datasets, var output, ..] => await QualityAsync(datasets, output),
    ["speed", ..] => await SpeedAsync(int.Parse(Option("--rows", "100000"), CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: quality <datasets> <out> [--seeds 1,2,3] [--only a,b] | speed [--rows 100000]");
    return 2;
}

async Task<int> QualityAsync(string datasetsFolder, string output)
{
    var seeds = Option("--seeds", "1,2,3").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    var only = Option("--only", "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    var results = new List<Dictionary<string, object?>>();
    foreach (var folder in Directory.GetDirectories(datasetsFolder).Order(StringComparer.Ordinal))
    {
        var name = Path.GetFileName(folder);
        if (only.Count > 0 && !only.Contains(name))
        {
            continue;
        }

        foreach (var seed in seeds)
        {
            var run = $"{name.Replace('_', '-')}-s{seed}";
            var csv = await File.ReadAllBytesAsync(Path.Combine(folder, "data.csv"));
            var spec = await File.ReadAllBytesAsync(Path.Combine(folder, "dataset.json"));
            var outcome = await UploadAndTrainAsync($"qb{tag}-{run}", csv, spec, seed);
            var row = new Dictionary<string, object?> { ["dataset"] = name, ["seed"] = seed, ["run"] = run };
            if (outcome.Model is null)
            {
                row["error"] = outcome.Error;
                Console.Error.WriteLine($"{run}: {outcome.Error}");
                results.Add(row);
                continue;
            }

            var m = outcome.Model;
            var metric = m.Task == TaskKind.Classification ? "accuracy" : "r2";
            row["task"] = m.Task;
            row["metric"] = metric;
            row["ours"] = m.TestMetrics[metric];
            row["family"] = m.Training.Family?.Name();
            row["model"] = m.Training.Model;
            row["features"] = m.Features.Count;
            row["preprocessSeconds"] = outcome.PreprocessSeconds;
            row["trainSeconds"] = outcome.TrainSeconds;
            row["searchSeconds"] = m.Training.Seconds;
            row["cutByTimeBudget"] = m.Search?.CutByTimeBudget;
            row["trials"] = m.Search?.Trials.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Kind.Name()} loss {t.ValidationLoss:F4}, {t.Seconds:F1} s, {t.StopReason}")).ToList();
            results.Add(row);
            await WriteSplitsAsync(outcome.Dataset!, Path.Combine(output, "splits", run));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{run}: ours {metric} {m.TestMetrics[metric]:F4} ({m.Training.Family?.Name()}: {m.Training.Model}); preprocess {outcome.PreprocessSeconds:F1} s, train {outcome.TrainSeconds:F1} s"));
        }
    }

    Directory.CreateDirectory(output);
    await File.WriteAllTextAsync(Path.Combine(output, "ours.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(Path.Combine(output, "ours.json"));
    return 0;
}

async Task<int> SpeedAsync(int rows)
{
    var csv = MixedCsv(rows);
    var spec = Encoding.UTF8.GetBytes("""{"target":"label"}""");
    var outcome = await UploadAndTrainAsync($"qb{tag}-speed-{rows}", csv, spec, seed: 1);
    if (outcome.Model is not { } m)
    {
        Console.Error.WriteLine(outcome.Error);
        return 1;
    }

    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["rows"] = rows,
        ["bytes"] = csv.Length,
        ["features"] = m.Features.Count,
        ["preprocessSeconds"] = outcome.PreprocessSeconds,
        ["trainSeconds"] = outcome.TrainSeconds,
        ["totalSeconds"] = outcome.PreprocessSeconds + outcome.TrainSeconds,
        ["searchSeconds"] = m.Training.Seconds,
        ["trials"] = m.Search?.Trials.Count,
        ["stoppedBy"] = m.Search?.StoppedBy,
        ["cutByTimeBudget"] = m.Search?.CutByTimeBudget,
        ["family"] = m.Training.Family?.Name(),
        ["model"] = m.Training.Model,
        ["testMetrics"] = m.TestMetrics,
        ["refitSeconds"] = m.Search?.RefitSeconds,
        ["quantization"] = m.Quantization?.Reason,
        ["trialTable"] = m.Search?.Trials.Select(t => string.Create(CultureInfo.InvariantCulture,
            $"{t.Kind.Name()} {t.Description}: {t.Epochs} ({t.BestEpoch}) epochs/rounds, {t.Seconds:F1} s, loss {t.ValidationLoss:F4}, metric {t.ValidationMetric:F4}, {t.StopReason}")).ToList(),
    }, new JsonSerializerOptions { WriteIndented = true }));
    return 0;
}

// Upload → preprocess handler → training job, as the pipeline runs them (without the queue hops in between).
async Task<Outcome> UploadAndTrainAsync(string dataset, byte[] csv, byte[] spec, int seed)
{
    using var deadline = new CancellationTokenSource(runDeadline);
    var ct = deadline.Token;
    var blobs = new BlobServiceClient(connection);
    var raw = blobs.GetBlobContainerClient(StorageNames.RawContainer);
    await raw.CreateIfNotExistsAsync(cancellationToken: ct);
    await blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).CreateIfNotExistsAsync(cancellationToken: ct);
    await blobs.GetBlobContainerClient(StorageNames.ModelsContainer).CreateIfNotExistsAsync(cancellationToken: ct);
    await raw.UploadBlobAsync($"{dataset}/dataset.json", BinaryData.FromBytes(spec), ct);
    await raw.UploadBlobAsync($"{dataset}/data.csv", BinaryData.FromBytes(csv), ct);

    var clock = Stopwatch.StartNew();
    var options = Options.Create(new PreprocessOptions { QuietPeriod = TimeSpan.Zero, SplitSeed = seed });
    var queues = new QueueServiceClient(connection);
    var debouncer = new DatasetDebouncer(blobs, queues, options, TimeProvider.System, NullLogger<DatasetDebouncer>.Instance);
    var handler = new PreprocessHandler(blobs, new DatasetStore(blobs), debouncer, options, TimeProvider.System, NullLogger<PreprocessHandler>.Instance);
    var preprocessed = await handler.HandleAsync(new BlobCreatedEvent
    {
        EventType = BlobCreatedEvent.EventTypeName,
        Subject = $"/blobServices/default/containers/{StorageNames.RawContainer}/blobs/{dataset}/data.csv",
    }, ct);
    var preprocessSeconds = clock.Elapsed.TotalSeconds;
    if (preprocessed.Result != PreprocessResult.Accepted || preprocessed.TrainRequest is not { } request)
    {
        return new Outcome(null, null, $"preprocess: {preprocessed.Result} {preprocessed.Detail} {preprocessed.ReportPath}", preprocessSeconds, 0);
    }

    // Production defaults; Trainer__* environment variables override them as they do for the trainer.
    var configuration = new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:ConnectionString"] = connection })
        .AddEnvironmentVariables()
        .Build();
    await using var services = new ServiceCollection().AddLogging().AddTrainer(configuration).BuildServiceProvider();
    clock.Restart();
    var model = await services.GetRequiredService<TrainingJob>().RunAsync(request, ct);
    var datasetManifest = (await BlobJson.ReadAsync(
        blobs.GetBlobContainerClient(StorageNames.DatasetsContainer).GetBlobClient(StorageNames.DatasetManifestPath(request.Dataset, request.DatasetVersion)),
        PipelineJson.Default.DatasetManifest, ct))!.Value.Value;
    return new Outcome(model, datasetManifest, null, preprocessSeconds, clock.Elapsed.TotalSeconds);
}

// The encoded splits the trainer read, as CSV (features, then the target: class index or value) for the peer.
async Task WriteSplitsAsync(DatasetManifest manifest, string folder)
{
    Directory.CreateDirectory(folder);
    var container = new BlobServiceClient(connection).GetBlobContainerClient(StorageNames.DatasetsContainer);
    var features = manifest.Features.Select(f => f.Name).ToList();
    foreach (var split in new[] { "train", "validation", "test" })
    {
        using var buffer = new MemoryStream();
        await container.GetBlobClient($"{manifest.Dataset}/{manifest.Version}/{manifest.Splits[split]}").DownloadToAsync(buffer);
        buffer.Position = 0;
        var data = await DatasetParquet.ReadAsync(buffer, features, CancellationToken.None);
        var text = new StringBuilder(string.Join(',', features.Select((_, i) => $"f{i}").Append("target"))).Append('\n');
        for (var r = 0; r < data.RowCount; r++)
        {
            text.AppendJoin(',', data.Features.Select(c => c[r].ToString("R", CultureInfo.InvariantCulture))).Append(',')
                .Append(data.Target[r].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }

        await File.WriteAllTextAsync(Path.Combine(folder, split + ".csv"), text.ToString());
    }

    await File.WriteAllTextAsync(Path.Combine(folder, "meta.json"), $$"""{"task":"{{manifest.Task}}"}""");
}

// 24 feature columns of the usual kinds and a 3-class label that depends on a hidden class shifting several of them.
static byte[] MixedCsv(int rows)
{
    var random = new Random(20261123);
    string[] cities = ["amsterdam", "berlin", "copenhagen", "dublin", "edinburgh", "florence", "geneva", "hamburg", "istanbul", "jerusalem", "krakow", "lisbon"];
    string[] plans = ["free", "basic", "plus", "pro", "enterprise"];
    string[] channels = ["web", "ios", "android", "partner", "email", "store", "phone"];
    string[] labels = ["churned", "retained", "upgraded"];
    var text = new StringBuilder(rows * 200);
    text.AppendJoin(',', Enumerable.Range(1, 14).Select(i => $"num{i}")).Append(",count1,count2,count3,city,plan,channel,active,verified,signup,spend,label\n");
    var start = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    for (var r = 0; r < rows; r++)
    {
        var k = random.Next(3);
        for (var i = 0; i < 14; i++)
        {
            text.Append(((random.NextDouble() * 100) - 50 + (k * (i % 3) * 8)).ToString("F3", CultureInfo.InvariantCulture)).Append(',');
        }

        text.Append(random.Next(0, 1000).ToString(CultureInfo.InvariantCulture)).Append(',');
        text.Append(random.NextDouble() < 0.02 ? "" : random.Next(0, 50).ToString(CultureInfo.InvariantCulture)).Append(',');
        text.Append(random.Next(-5, 5).ToString(CultureInfo.InvariantCulture)).Append(',');
        text.Append(cities[random.Next(cities.Length)]).Append(',');
        text.Append(plans[(random.Next(plans.Length) + k) % plans.Length]).Append(',');
        text.Append(channels[random.Next(channels.Length)]).Append(',');
        text.Append(random.Next(2) == 0 ? "true" : "false").Append(',');
        text.Append(random.NextDouble() < 0.01 ? "" : random.Next(2) == 0 ? "yes" : "no").Append(',');
        text.Append(start.AddMinutes(random.Next(0, 3 * 365 * 24 * 60)).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture)).Append(',');
        text.Append((random.NextDouble() * 1000).ToString("F2", CultureInfo.InvariantCulture)).Append(',');
        text.Append(labels[k]).Append('\n');
    }

    return Encoding.UTF8.GetBytes(text.ToString());
}

internal sealed record Outcome(ModelManifest? Model, DatasetManifest? Dataset, string? Error, double PreprocessSeconds, double TrainSeconds);
