using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Pipeline.Preprocessing;
using Pipeline.Tests.Infrastructure;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// The hostile-file run of the fault suite: seeded files across every reader (CSV, TSV, text, JSON Lines, real Parquet
/// written by Parquet.Net, each gzip-wrapped or sniffed without an extension) mutated byte-wise (flipped, inserted,
/// duplicated, cut short), and the bombs (gzip bombs, 20,000 columns, a 24 MB cell, a 40 MB line, a Parquet footer
/// claiming two billion rows or more bytes than the file, deeply nested JSON). Each file must end within its deadline as
/// an accepted dataset or a rejection with a reason and a report: any other exception is a crash, which the host would
/// retry into a storm. CI runs 300 files; <c>bash bench/faults/run.sh files 10000</c> runs 10,000 and writes the figures
/// (outcomes by reason, slowest file, peak RSS) to <c>HOSTILE_FILES_REPORT</c>.
/// </summary>
public sealed class HostileFilesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120); // bounded work past a limit is slow, not hung, on a busy machine

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static int Count => int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_FILES"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 300;

    /// <summary>The first file of the run (<c>HOSTILE_FILES_FROM</c>): to go straight to a file a long run stopped at.</summary>
    private static int First => int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_FILES_FROM"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 0;

    [Fact]
    public async Task Build_HostileFiles_NeverCrashHangOrRetry_AndAlwaysReport()
    {
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var bombs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var crashes = new List<string>();
        var slowest = (Seconds: 0.0, File: "");
        var clock = Stopwatch.StartNew();
        var options = new PreprocessOptions { MinRows = 5 };
        for (var i = First; i < Count; i++)
        {
            var (name, bytes) = HostileFile.Generate(i);
            var started = Stopwatch.GetTimestamp();
            var build = Task.Run(() => BuildAsync([(name, bytes)], options: options), TestContext.Current.CancellationToken);
            var finished = await Task.WhenAny(build, Task.Delay(Deadline, TestContext.Current.CancellationToken));
            Assert.True(finished == build, $"file {i} ({name}, {bytes.Length} bytes) had no result after {Deadline.TotalSeconds} s");
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (seconds > slowest.Seconds)
            {
                slowest = (seconds, $"{i} {name} ({bytes.Length} bytes)");
            }

            try
            {
                var prepared = await build;
                Assert.Equal("accepted", prepared.Report.Status);
                Add(outcomes, "accepted");
                Note(bombs, i, "accepted");
            }
            catch (DatasetRejectedException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                Assert.NotNull(e.Report);
                Add(outcomes, e.Reason);
                Note(bombs, i, e.Reason);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                crashes.Add($"file {i} ({name}): {e.GetType().Name}: {e.Message}");
            }
        }

        var peakRss = PeakRssBytes();
        if (Environment.GetEnvironmentVariable("HOSTILE_FILES_REPORT") is { Length: > 0 } report)
        {
            await File.WriteAllTextAsync(report, JsonSerializer.Serialize(new
            {
                files = Count,
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
                crashes,
                outcomes,
                bombs,
                slowestSeconds = Math.Round(slowest.Seconds, 2),
                slowestFile = slowest.File,
                peakRssMegabytes = peakRss >> 20,
            }, Indented), TestContext.Current.CancellationToken);
        }

        Assert.Empty(crashes);
        Assert.Contains("accepted", outcomes.Keys); // the generator reaches both outcomes, or the run would prove little
        foreach (var bomb in new[] { "gzip-too-large", "too-many-columns", "parquet-row-group-too-large", "malformed-parquet" })
        {
            Assert.Contains(bomb, outcomes.Keys);
        }
    }

    private static void Add(SortedDictionary<string, int> outcomes, string key) => outcomes[key] = outcomes.GetValueOrDefault(key) + 1;

    private static void Note(SortedDictionary<string, string> bombs, int index, string outcome)
    {
        if (HostileFile.BombOf(index) is { } bomb)
        {
            bombs[bomb] = bombs.TryGetValue(bomb, out var seen) && !seen.Split(' ').Contains(outcome) ? $"{seen} {outcome}" : outcome;
        }
    }

    private static long PeakRssBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
