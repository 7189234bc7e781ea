using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Datasets;
using Pipeline.Preprocessing;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>
/// Pass 2 encodes from what pass 1 kept of each cell, not from the text. Whatever a column holds (missing and unreadable
/// cells, values past the tracked-distinct cap, dates before 1900, boolean words and digits, numbers too large for a
/// float), the Parquet rows must be exactly what <see cref="FeatureEncoder"/> (the predict path) makes of the raw text.
/// </summary>
public class SpillEncodingTests
{
    private static readonly string[] Splits = ["train", "validation", "test"];

    [Theory]
    [InlineData(TaskKind.Classification)]
    [InlineData(TaskKind.Regression)]
    public async Task Written_rows_equal_the_encoder_applied_to_the_text(string task)
    {
        var csv = Generate(seed: 11, rows: 15_000, regression: task == TaskKind.Regression);
        var spec = new DatasetSpec
        {
            Task = task,
            Columns = new Dictionary<string, ColumnSpec>
            {
                ["code"] = new() { Type = ColumnKinds.Categorical },
                ["euros"] = new() { Type = ColumnKinds.Numeric, DecimalSeparator = ",", ThousandsSeparator = "." },
                ["units"] = new() { Type = ColumnKinds.Numeric, ThousandsSeparator = "," },
                ["rate"] = new() { DecimalSeparator = "," },
            },
        };
        // Small row groups: several are handed to the background writer while rows are still being encoded.
        var options = new PreprocessOptions { MaxTrackedDistinct = 100, MaxCategories = 30, RowGroupSize = 1000 };

        var prepared = await BuildAsync([("data.tsv", Encoding.UTF8.GetBytes(csv))], spec, options);

        Assert.Equal(
            ["amount", "code", "euros", "flag", "flip", "rate", "units", "when"],
            prepared.Encodings.Select(e => e.Column).Order(StringComparer.Ordinal));
        var written = Splits
            .SelectMany(name => Rows(prepared.Split(name)))
            .Order(StringComparer.Ordinal)
            .ToList();
        var expected = Expected(csv, prepared).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, written.Count);
        Assert.Equal(expected, written);
    }

    [Fact]
    public async Task Statistics_of_numbers_past_the_distinct_cap_are_those_of_the_values()
    {
        // Past 100 distinct values the numbers take the profiler's loop for numbers; "x" never stops it, "y" does.
        var random = new Random(5);
        var text = new StringBuilder("x,y,label\n");
        int yMissing = 0, yJunk = 0;
        for (var i = 0; i < 6000; i++)
        {
            var y = random.Next(20) switch
            {
                0 => "",
                1 => "junk",
                _ => (random.NextDouble() * 10).ToString("F4", CultureInfo.InvariantCulture),
            };
            yMissing += y.Length == 0 ? 1 : 0;
            yJunk += y == "junk" ? 1 : 0;
            text.Append(CultureInfo.InvariantCulture, $"{(random.NextDouble() * 1000) - 500:F3},{y},{(i % 2 == 0 ? "a" : "b")}\n");
        }

        var prepared = await BuildAsync(text.ToString(), options: new PreprocessOptions { MaxTrackedDistinct = 100 });

        var train = prepared.Split("train");
        var x = train.Features[prepared.Features.FindIndex(f => f.Name == "x")];
        var stats = prepared.Features.Single(f => f.Name == "x");
        var mean = x.Average(v => (double)v);
        Assert.Equal(mean, stats.Mean, 1e-3);
        Assert.Equal(Math.Sqrt(x.Average(v => (v - mean) * (v - mean))), stats.Std, 1e-3);
        Assert.Equal(x.Min(), stats.Min, 1e-3);
        Assert.Equal(x.Max(), stats.Max, 1e-3);
        var sorted = x.Order().ToArray();
        Assert.Equal((sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2, stats.Median, 1e-3);
        var profile = prepared.Report!.Columns.Single(c => c.Name == "y");
        Assert.Equal(yMissing, profile.Missing);
        Assert.Equal(yJunk, profile.Unreadable);
        Assert.Equal(6000 - yMissing, profile.Present);
        Assert.True(profile.DistinctIsLowerBound);
    }

    [Theory]
    [InlineData("ascending")]
    [InlineData("descending")]
    public async Task Median_past_the_sample_size_is_sampled_from_the_whole_column(string order)
    {
        // 60,000 rows in order through a 500-value sample: a sample that kept the first values, or stopped taking new
        // ones, would report a median near one end; a uniform one lands near the middle (its standard error here ~0.02).
        var text = new StringBuilder("x,label\n");
        for (var i = 0; i < 60_000; i++)
        {
            var x = order == "ascending" ? i / 60_000.0 : 1 - (i / 60_000.0);
            text.Append(CultureInfo.InvariantCulture, $"{x:F6},{(i % 3 == 0 ? "a" : "b")}\n");
        }

        var prepared = await BuildAsync(text.ToString(), options: new PreprocessOptions { MaxTrackedDistinct = 100, MedianSampleSize = 500 });

        var stats = prepared.Features.Single(f => f.Name == "x");
        Assert.InRange(stats.Median, 0.42, 0.58);
        Assert.Equal(0.5, stats.Mean, 0.01); // the statistics take every value
    }

    [Fact]
    public async Task Each_split_fills_row_groups_of_its_share()
    {
        // ~37,000 rows of ~14 characters to a 512 K-character block. Train row groups hold 50,000 rows; validation and
        // test ones (15% of the rows each against train's 70%) 10,715. Each split makes room for its own share of a
        // block (train ~26,000 rows, validation and test ~5,500), so every group but a split's last holds one or more
        // whole shares: at least half full.
        var random = new Random(9);
        var text = new StringBuilder("x,y,label\n");
        for (var i = 0; i < 240_000; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{random.NextDouble():F5},{random.Next(1000)},{(i % 2 == 0 ? "a" : "b")}\n");
        }

        var prepared = await BuildAsync(text.ToString(), options: new PreprocessOptions { RowGroupSize = 50_000 });

        foreach (var name in Splits)
        {
            Assert.Equal(prepared.Split(name).RowCount, prepared.RowGroups(name).Sum());
        }

        Assert.InRange(prepared.Split("validation").RowCount, 30_000, 50_000);
        Assert.All(prepared.RowGroups("train")[..^1], rows => Assert.InRange(rows, 25_000, 50_000));
        foreach (var name in new[] { "validation", "test" })
        {
            Assert.InRange(prepared.RowGroups(name).Length, 3, 8);
            Assert.All(prepared.RowGroups(name)[..^1], rows => Assert.InRange(rows, 5_358, 10_715));
        }
    }

    /// <summary>Columns: amount (numbers, junk, NA, 1e40), code (300 codes: past the cap), flag (yes/no/1/0/junk),
    /// euros (1.234,5), when (timestamps from 1850 on, a few after 8200, junk), units, rate, flip, label.</summary>
    private static string Generate(int seed, int rows, bool regression)
    {
        var random = new Random(seed);
        var text = new StringBuilder("amount\tcode\tflag\teuros\twhen\tunits\trate\tflip\tlabel\n");
        string[] flags = ["yes", "no", "true", "false", "1", "0", "Y", "n"];
        for (var i = 0; i < rows; i++)
        {
            var amount = random.Next(40) switch
            {
                0 => "NA",
                1 => "abc" + random.Next(500),
                2 => "1e40",
                _ => (random.NextDouble() * 1000).ToString("F3", CultureInfo.InvariantCulture),
            };
            var code = random.Next(30) == 0 ? "" : "c" + (random.Next(2) == 0 ? random.Next(10) : random.Next(300));
            var flag = random.Next(12) == 0 ? "junk" + random.Next(400) : random.Next(30) == 0 ? "NA" : flags[random.Next(flags.Length)];
            var euros = random.Next(25) == 0 ? "?" : string.Create(CultureInfo.InvariantCulture, $"{random.Next(1, 99)}.{random.Next(100, 999)},{random.Next(10)}");
            var when = random.Next(25) == 0
                ? "sometime"
                : random.Next(100) == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{random.Next(8200, 9999)}-05-06 07:{random.Next(60):D2}")
                : new DateTime(1850, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(random.Next(0, 90_000_000)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
            var label = regression
                ? (random.Next(60) == 0 ? "n/a?" : (random.NextDouble() * 50).ToString("F2", CultureInfo.InvariantCulture))
                : ((i % 3) switch { 0 => "red", 1 => "green", _ => "blue" });
            // units: thousands separator only; rate: a decimal comma declared without a type; flip: 150 numbers, then
            // yes/no (a boolean column whose first values were numbers past the distinct cap, let go).
            var units = string.Create(CultureInfo.InvariantCulture, $"{random.Next(1, 99)},{random.Next(100, 999)}");
            var rate = string.Create(CultureInfo.InvariantCulture, $"{random.Next(0, 9)},{random.Next(0, 999):D3}");
            var flip = i < 150 ? string.Create(CultureInfo.InvariantCulture, $"{i}.5") : random.Next(2) == 0 ? "yes" : "no";
            text.Append($"{amount}\t{code}\t{flag}\t{euros}\t{when}\t{units}\t{rate}\t{flip}\t{label}\n");
        }

        return text.ToString();
    }

    /// <summary>Every kept row of the file, encoded from its text by the predict path's encoder.</summary>
    private static IEnumerable<string> Expected(string tsv, PreparedDataset prepared)
    {
        var encoder = new FeatureEncoder(prepared.Encodings);
        var lines = tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split('\t');
        var features = new float[encoder.Width];
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split('\t');
            var targetText = cells[^1].Trim();
            float target;
            if (prepared.Task == TaskKind.Classification)
            {
                target = prepared.Labels.IndexOf(targetText);
            }
            else if (RawValues.TryParseNumber(targetText, out var number))
            {
                target = (float)number;
            }
            else
            {
                continue;
            }

            for (var e = 0; e < encoder.Columns.Count; e++)
            {
                var column = Array.IndexOf(header, encoder.Columns[e].Column);
                encoder.Encode(e, cells[column].Trim(), features.AsSpan(encoder.OffsetOf(e), encoder.WidthOf(e)));
            }

            yield return Render(features, target);
        }
    }

    private static IEnumerable<string> Rows(DatasetSplit split)
    {
        var features = new float[split.Features.Length];
        for (var r = 0; r < split.RowCount; r++)
        {
            for (var f = 0; f < features.Length; f++)
            {
                features[f] = split.Features[f][r];
            }

            yield return Render(features, split.Target[r]);
        }
    }

    private static string Render(float[] features, float target) =>
        string.Join(' ', features.Select(v => BitConverter.SingleToInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture))) + " | " + target.ToString("R", CultureInfo.InvariantCulture);
}
