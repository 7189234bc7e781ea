using System.Globalization;
using System.Text;
using CsCheck;
using Pipeline.Preprocessing;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// Generated malformed files (ragged rows, stray and unterminated quotes, embedded newlines, NULs, invalid UTF-8, random
/// delimiters and line endings, truncated or corrupt gzip, fake Parquet, broken JSON lines): the builder never crashes
/// and never hangs; every input ends as an accepted dataset with a report or a rejection with a reason and a report.
/// </summary>
public class DatasetBuilderFuzzTests
{
    private static readonly string[] Extensions = ["data.csv", "data.tsv", "data.jsonl", "data.csv.gz", "data", "data.parquet", "data.jsonl.gz", "data.txt"];

    private static readonly Gen<string> Cell = Gen.Frequency(
        (60, Gen.Double[-1e6, 1e6].Select(d => d.ToString("G6", CultureInfo.InvariantCulture))),
        (30, Gen.Int[0, 4].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (20, Gen.OneOf<string>("NA", "", "null", "yes", "no", "2024-02-29", "2024-13-45", "1,234", "3,5", "red", "blue", "Infinity", "NaN")),
        (8, Gen.OneOf<string>("\"a,b\"", "\"unterminated", "\"x\ny\"", "a\"b", "\"\"", "é", "😀", "{\"k\":1}", new string('z', 300))),
        (1, Gen.Const("\0")),
        (8, Gen.String[0, 12]));

    private static readonly Gen<(string[][] Rows, int Delimiter, int LineEnd, int Extension, byte[] Noise, int Truncate, int Seed)> Files =
        Gen.Select(
            Gen.Int[1, 5].SelectMany(width => Gen.Frequency((9, Cell.Array[width, width]), (1, Cell.Array[0, 7])).Array[0, 50]),
            Gen.Int[0, 4],
            Gen.Int[0, 2],
            Gen.Int[0, Extensions.Length - 1],
            Gen.Frequency((3, Gen.Const(Array.Empty<byte>())), (2, Gen.Byte.Array[1, 6])),
            Gen.Frequency((3, Gen.Const(100)), (1, Gen.Int[0, 99])),
            Gen.Int);

    private static byte[] Render((string[][] Rows, int Delimiter, int LineEnd, int Extension, byte[] Noise, int Truncate, int Seed) file)
    {
        var name = Extensions[file.Extension];
        var lineEnd = new[] { "\n", "\r\n", "\r" }[file.LineEnd];
        var text = new StringBuilder();
        if (name.Contains("jsonl", StringComparison.Ordinal))
        {
            foreach (var row in file.Rows)
            {
                text.Append('{').AppendJoin(',', row.Select((c, i) => $"\"c{i}\":{(double.TryParse(c, CultureInfo.InvariantCulture, out _) ? c : "\"" + c + "\"")}")).Append('}').Append(lineEnd);
            }
        }
        else
        {
            var delimiter = ",\t;| "[file.Delimiter];
            foreach (var row in file.Rows)
            {
                text.AppendJoin(delimiter, row).Append(lineEnd);
            }
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var random = new Random(file.Seed);
        foreach (var noise in file.Noise)
        {
            if (bytes.Length > 0)
            {
                bytes[random.Next(bytes.Length)] = noise;
            }
        }

        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            bytes = Gzip(bytes);
        }
        else if (name.EndsWith(".parquet", StringComparison.Ordinal))
        {
            bytes = [.. "PAR1"u8, .. bytes, .. "PAR1"u8];
        }

        // Truncate (0-99% kept) in some cases, e.g. mid-gzip-stream or mid-quote.
        return file.Truncate < 100 ? bytes[..(bytes.Length * file.Truncate / 100)] : bytes;
    }

    [Fact]
    public async Task BuildAsync_GeneratedMalformedFiles_NeverCrashOrHang_AndAlwaysReport()
    {
        var outcomes = new Dictionary<string, int>();
        await Files.SampleAsync(async file =>
        {
            var bytes = Render(file);
            var build = BuildAsync([(Extensions[file.Extension], bytes)], options: new PreprocessOptions { MinRows = 5 });
            var finished = await Task.WhenAny(build, Task.Delay(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
            Assert.True(finished == build, $"no result after 20 s for {bytes.Length} bytes as {Extensions[file.Extension]}");
            try
            {
                var prepared = await build;
                Assert.Equal("accepted", prepared.Report.Status);
                Assert.NotEmpty(prepared.Features);
                Count(outcomes, "accepted");
            }
            catch (DatasetRejectedException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Reason));
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                Assert.NotNull(e.Report);
                Assert.NotEmpty(ReportSummary.ToMarkdown(e.Report));
                Count(outcomes, e.Reason);
            }
        }, iter: 400, threads: 1);

        // The generator reaches both outcomes, or the property would prove little.
        Assert.Contains("accepted", outcomes.Keys);
        Assert.True(outcomes.Count >= 5, string.Join(", ", outcomes.Select(o => $"{o.Key}={o.Value}")));
    }

    private static void Count(Dictionary<string, int> outcomes, string key)
    {
        lock (outcomes)
        {
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }
    }
}
