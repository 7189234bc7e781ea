using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.LocalHost;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.LocalHost;

/// <summary>
/// The memory bound of the preprocessing app, measured where it applies: the functions app's real worker process (its
/// peak resident set, VmHWM, reset before each file through <c>/proc/{pid}/clear_refs</c>), one file per invocation
/// through the Functions-host stand-in. Every bomb of the fault suite, the reproduced 20,000-column upload, many wide
/// categorical columns with <c>maxCategories</c> raised (past <c>MaxFeatures</c>, just inside <c>MaxColumnChunks</c>, and
/// past it), and a large ordinary file (<c>WORKER_MEMORY_ROWS</c> rows) each end as a dataset or a rejection
/// in one invocation (never a retry) with the worker's peak under 512 MB. <c>WORKER_MEMORY_REPORT</c> names a file for
/// the figures (docs/reliability.md).
/// </summary>
public sealed class WorkerMemoryTests
{
    private const long BoundBytes = 512L << 20;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Preprocess_EveryBombAndALargeFile_PeakRssOfTheWorkerStaysUnder512MB()
    {
        await Azurite.EnsureRunningAsync();
        var raw = Azurite.Blobs().GetBlobContainerClient(StorageNames.RawContainer);
        await raw.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        using var capture = new LogCapture();
        await using var worker = await FunctionsWorker.StartAsync(FunctionsWorker.BuildOutput(), loggers: capture.Factory);
        var host = new QueueTriggerHost(worker, Azurite.Queues(), TimeProvider.System, NullLogger<QueueTriggerHost>.Instance);
        var preprocess = Assert.Single(worker.QueueFunctions, f => f.Name == "Preprocess");
        var idle = Status(worker.WorkerProcessId, "VmRSS");

        var rows = int.TryParse(Environment.GetEnvironmentVariable("WORKER_MEMORY_ROWS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 600_000;
        var files = HostileFile.BombKinds.Select(kind => (Kind: kind, File: HostileFile.BombFile(kind), Spec: (string?)null, Accepted: false))
            .Append(("wide-30-rows", ("wide.csv", Wide(20_000, 30)), null, false))
            .Append(("categorical-past-limit", ("categories.csv", Categorical(columns: 60, distinct: 1000, rows: 20_000)), """{"maxCategories":1000}""", false))
            .Append(("categorical-near-limit", ("categories.csv", Categorical(columns: 35, distinct: 60, rows: 45_000)), """{"maxCategories":50}""", true))
            .Append(("categorical-long", ("categories.csv", Categorical(columns: 35, distinct: 60, rows: 120_000)), """{"maxCategories":50}""", false))
            .Append(("large-ordinary", ("large.csv", Ordinary(rows)), null, true))
            .ToList();
        var figures = new List<object>();
        foreach (var (kind, (name, bytes), spec, accepted) in files)
        {
            var dataset = Azurite.UniqueName("memory");
            if (spec is not null)
            {
                await raw.UploadBlobAsync($"{dataset}/dataset.json", BinaryData.FromString(spec), Cancellation);
            }

            await raw.UploadBlobAsync($"{dataset}/{name}", new BinaryData(bytes), Cancellation);
            await File.WriteAllTextAsync($"/proc/{worker.WorkerProcessId}/clear_refs", "5", Cancellation); // VmHWM := VmRSS

            var result = await host.InvokeAsync(preprocess, Message(Invocations.BlobCreatedEvent(StorageNames.RawContainer, $"{dataset}/{name}").ToJsonString()), Cancellation);

            var peak = Status(worker.WorkerProcessId, "VmHWM");
            var outcome = capture.Entries.Select(e => e.Message).LastOrDefault(m => m.Contains($"for /blobServices/default/containers/raw/blobs/{dataset}/", StringComparison.Ordinal)) ?? "(no outcome logged)";
            figures.Add(new { kind, bytes = bytes.Length, peakRssMegabytes = peak >> 20, outcome = Outcome(outcome) });
            Assert.True(result.Succeeded, $"{kind}: the invocation failed (the host would retry it): {result.Failure}");
            Assert.True(peak <= BoundBytes, $"{kind} ({bytes.Length} bytes): the worker's peak RSS was {peak >> 20} MB, over {BoundBytes >> 20} MB; {outcome}");
            // Both ends are reached: the bombs are rejected by their limits, the ordinary files become datasets.
            Assert.Contains(accepted ? "Preprocess Accepted" : "Preprocess Rejected", outcome, StringComparison.Ordinal);
        }

        if (Environment.GetEnvironmentVariable("WORKER_MEMORY_REPORT") is { Length: > 0 } report)
        {
            await File.WriteAllTextAsync(report, JsonSerializer.Serialize(new { idleRssMegabytes = idle >> 20, files = figures }, Indented), Cancellation);
        }
    }

    private static string Outcome(string logged) => logged.StartsWith("[worker] ", StringComparison.Ordinal) && logged.IndexOf("Preprocess ", StringComparison.Ordinal) is var at and >= 0
        ? logged[at..]
        : logged;

    private static QueueMessage Message(string text) =>
        QueuesModelFactory.QueueMessage(Guid.NewGuid().ToString(), "pop", text, 1, DateTimeOffset.UtcNow.AddSeconds(30), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(7));

    /// <summary>A field of <c>/proc/{pid}/status</c> (kB there), in bytes.</summary>
    private static long Status(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The reproduced upload: <paramref name="columns"/> numeric columns and <paramref name="rows"/> rows (3.7 MB at 20,000 × 30).</summary>
    private static byte[] Wide(int columns, int rows)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', Enumerable.Range(0, columns).Select(c => $"c{c}")).Append('\n');
        var random = new Random(5);
        for (var r = 0; r < rows; r++)
        {
            text.AppendJoin(',', Enumerable.Range(0, columns).Select(_ => random.Next(10))).Append('\n');
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>Categorical columns of <paramref name="distinct"/> values each, and a label.</summary>
    private static byte[] Categorical(int columns, int distinct, int rows)
    {
        var text = new StringBuilder();
        text.AppendJoin(',', Enumerable.Range(0, columns).Select(c => $"k{c}")).Append(",label\n");
        var random = new Random(6);
        for (var r = 0; r < rows; r++)
        {
            text.AppendJoin(',', Enumerable.Range(0, columns).Select(c => $"v{c}_{random.Next(distinct)}")).Append(random.Next(2) == 0 ? ",yes\n" : ",no\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>An ordinary table: numeric, categorical and boolean columns and a class label (about 50 MB at 600,000 rows).</summary>
    private static byte[] Ordinary(int rows)
    {
        var text = new StringBuilder("age,income,score,city,member,ratio,visits,label\n");
        var random = new Random(7);
        string[] cities = ["oslo", "rome", "lima", "kyiv", "pune", "nara"];
        for (var r = 0; r < rows; r++)
        {
            var age = 18 + random.Next(60);
            var income = Math.Round(20_000 + random.NextDouble() * 90_000, 2);
            text.Append(CultureInfo.InvariantCulture, $"{age},{income},{random.NextDouble():F4},{cities[random.Next(cities.Length)]},{(random.Next(2) == 0 ? "true" : "false")},{random.NextDouble() * 3:F3},{random.Next(40)},{(age + income / 10_000 > 45 ? "high" : "low")}\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}
