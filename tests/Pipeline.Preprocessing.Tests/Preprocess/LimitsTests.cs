using System.Globalization;
using System.Text;
using Pipeline.Contracts;
using Pipeline.Preprocessing;
using static Pipeline.Tests.Functions.Preprocess.DatasetBuilderHarness;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>Wide or exploding files end in a report naming the limit, within bounded memory, never in retries.</summary>
public class LimitsTests
{
    /// <summary>A numeric CSV of <paramref name="columns"/> feature columns and a two-class label.</summary>
    private static byte[] Wide(int columns, int rows, int seed = 1)
    {
        var random = new Random(seed);
        var csv = new StringBuilder();
        csv.AppendJoin(',', Enumerable.Range(0, columns).Select(c => $"c{c}")).Append(",label\n");
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                csv.Append(random.Next(1000).ToString(CultureInfo.InvariantCulture)).Append(',');
            }

            csv.Append(r % 2 == 0 ? "a" : "b").Append('\n');
        }

        return Utf8(csv.ToString());
    }

    [Fact]
    public async Task BuildAsync_TwentyThousandColumns_IsRejectedAtTheHeaderNamingTheLimit()
    {
        var rejection = await RejectAsync(Wide(20_000, 30));

        Assert.Equal("too-many-columns", rejection.Reason);
        Assert.Contains("20001 columns", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("Preprocess:MaxColumns", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_MoreEncodedFeaturesThanTheLimit_IsRejectedNamingTheLimit()
    {
        var options = new PreprocessOptions { MaxFeatures = 5, QuietPeriod = TimeSpan.Zero };

        var rejection = await Assert.ThrowsAsync<DatasetRejectedException>(() => BuildAsync([("data.csv", Wide(8, 200))], options: options));

        Assert.Equal("too-many-features", rejection.Reason);
        Assert.Contains("8 features", rejection.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Row groups times columns over the three split files is bounded (each chunk's metadata stays in memory until the
    /// file is closed): 10 features and the target in row groups of 1,000 train rows (validation and test groups in
    /// proportion) add 3 row groups of 11 chunks per 1,000 train rows, so 36,000 rows (858 chunks) fit in 1,000 chunks
    /// and 50,000 rows (1,155) do not.
    /// </summary>
    [Fact]
    public async Task BuildAsync_MoreColumnChunksThanTheLimit_IsRejectedNamingTheLimit_JustUnderIsBuilt()
    {
        var options = new PreprocessOptions { RowGroupSize = 1000, MaxColumnChunks = 1000, QuietPeriod = TimeSpan.Zero };

        var built = await BuildAsync([("data.csv", Wide(10, 36_000))], options: options);
        var rejection = await Assert.ThrowsAsync<DatasetRejectedException>(() => BuildAsync([("data.csv", Wide(10, 50_000))], options: options));

        Assert.Equal(10, built.Features.Count);
        Assert.Equal("too-many-cells", rejection.Reason);
        Assert.Contains("50000 rows of 10 encoded features", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("Preprocess:MaxColumnChunks 1000", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_WideSplit_GetsRowGroupsWithinTheBufferBudget()
    {
        var options = new PreprocessOptions { MaxRowGroupBytes = 1 << 20 };

        var data = await BuildAsync([("data.csv", Wide(600, 3000))], options: options);

        var rowsPerGroup = (1 << 20) / (4 * (data.Features.Count + 1));
        Assert.Equal(600, data.Features.Count);
        Assert.All(data.RowGroups("train"), rows => Assert.InRange(rows, 1, rowsPerGroup));
        Assert.True(data.RowGroups("train").Length > 1);
        Assert.Equal(data.Rows.Train, data.RowGroups("train").Sum());
    }

    [Fact]
    public async Task BuildAsync_GzipUnpackingPastItsRatio_IsRejectedBeforeFillingTheDisk()
    {
        // 80 MB of one repeated row packs to well under 1 MB: a small bomb, past the 64 MB floor at a ratio of 2.
        var row = "1,2,a\n"u8.ToArray();
        var text = new byte[80 << 20];
        for (var i = 0; i + row.Length <= text.Length; i += row.Length)
        {
            row.CopyTo(text, i);
        }

        "x,y,z\n"u8.CopyTo(text);
        var options = new PreprocessOptions { MaxGzipRatio = 2, QuietPeriod = TimeSpan.Zero };

        var rejection = await Assert.ThrowsAsync<DatasetRejectedException>(() => BuildAsync([("bomb.csv.gz", Gzip(text))], options: options));

        Assert.Equal("gzip-too-large", rejection.Reason);
        Assert.Contains("Preprocess:MaxGzipRatio", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(1_000)]
    public void ProfileBudget_AllColumnsTogether_StayWithinTheBudgetAndItsFloors(int columns)
    {
        var options = new PreprocessOptions();

        var budget = ProfileBudget.For(options, columns);

        // Text at 2 bytes a character, an entry per distinct value, 8 bytes a median sample value.
        var perColumn = budget.TrackedChars * 2L + budget.TrackedDistinct * 192L + budget.MedianSampleSize * 8L;
        Assert.True(perColumn * columns <= Math.Max(options.ProfileMemoryBytes, columns * 240_000L), $"{perColumn} bytes a column");
        Assert.True(budget.TrackedDistinct > options.MaxCategoricalDistinct);
        if (columns == 50)
        {
            Assert.Equal((options.MaxTrackedDistinct, options.MaxTrackedChars, options.MedianSampleSize), (budget.TrackedDistinct, budget.TrackedChars, budget.MedianSampleSize));
        }
    }
}
