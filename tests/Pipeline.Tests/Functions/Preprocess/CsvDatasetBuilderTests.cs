using System.Text;
using Pipeline.Contracts;
using Pipeline.Functions.Preprocess;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

public class CsvDatasetBuilderTests
{
    private static Task<PreparedDataset> BuildAsync(string csv, DatasetSpec? spec = null) =>
        BuildAsync(Encoding.UTF8.GetBytes(csv), spec);

    private static async Task<PreparedDataset> BuildAsync(byte[] bytes, DatasetSpec? spec = null)
    {
        using var stream = new MemoryStream(bytes);
        return await new CsvDatasetBuilder(new PreprocessOptions()).BuildAsync(stream, spec, TestContext.Current.CancellationToken);
    }

    private static async Task<DatasetRejectedException> RejectAsync(byte[] bytes) =>
        await Assert.ThrowsAsync<DatasetRejectedException>(() => BuildAsync(bytes));

    [Fact]
    public async Task BuildAsync_ThreeClassCsv_InfersClassificationAndSplitsDeterministically()
    {
        var (csv, _) = SyntheticData.ThreeClass(500, seed: 1);

        var first = await BuildAsync(csv);
        var second = await BuildAsync(csv);

        Assert.Equal(TaskKind.Classification, first.Task);
        Assert.Equal("species", first.Target);
        Assert.Equal(SyntheticData.Classes, first.Labels);
        Assert.Equal(["f1", "f2", "f3", "f4"], first.Features.Select(f => f.Name));
        Assert.Contains(first.ExcludedColumns, c => c.Name == "comment" && c.Reason.StartsWith("non-numeric", StringComparison.Ordinal));
        Assert.Equal(500, first.Rows.Train + first.Rows.Validation + first.Rows.Test);
        Assert.Equal(75, first.Rows.Test);
        Assert.Equal(first.Splits["test"].Target, second.Splits["test"].Target);
        Assert.Equal(first.Splits["train"].Features[2], second.Splits["train"].Features[2]);
    }

    [Fact]
    public async Task BuildAsync_MissingAndUnparseableCells_AreImputedWithTrainMedianAndCounted()
    {
        var rows = new StringBuilder("a,b,y\n");
        for (var i = 0; i < 40; i++)
        {
            var a = i switch { 3 => "", 7 => "NA", 11 => "oops", _ => (i % 5).ToString(System.Globalization.CultureInfo.InvariantCulture) };
            rows.Append(a).Append(',').Append(i * 0.5).Append(',').Append(i * 1.25 + 0.1).Append('\n');
        }

        var data = await BuildAsync(rows.ToString());

        Assert.Equal(TaskKind.Regression, data.Task);
        var a0 = data.Features[0];
        Assert.Equal(2, a0.Missing);
        Assert.Equal(1, a0.Unparseable);
        Assert.Equal(3, data.Rows.ImputedCells);
        Assert.All(data.Splits.Values, s => Assert.All(s.Features[0], v => Assert.False(float.IsNaN(v))));
        Assert.Contains(data.Warnings, w => w.Contains("median", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_IntegerTargetWithFewValues_IsClassificationUnlessSpecSaysRegression()
    {
        var csv = new StringBuilder("x,label\n");
        for (var i = 0; i < 60; i++)
        {
            csv.Append(i).Append(',').Append(i % 3).Append('\n');
        }

        Assert.Equal(TaskKind.Classification, (await BuildAsync(csv.ToString())).Task);
        Assert.Equal(["0", "1", "2"], (await BuildAsync(csv.ToString())).Labels);
        Assert.Equal(TaskKind.Regression, (await BuildAsync(csv.ToString(), new DatasetSpec { Task = "regression" })).Task);
    }

    [Fact]
    public async Task BuildAsync_SpecTarget_ChoosesTargetAndIgnoresColumns()
    {
        var csv = new StringBuilder("y,x1,x2,id\n");
        for (var i = 0; i < 40; i++)
        {
            csv.Append(i % 2 == 0 ? "yes" : "no").Append(',').Append(i).Append(',').Append(i * 2 % 7).Append(',').Append(1000 + i).Append('\n');
        }

        var data = await BuildAsync(csv.ToString(), new DatasetSpec { Target = "y", Ignore = ["id"] });

        Assert.Equal("y", data.Target);
        Assert.Equal(["no", "yes"], data.Labels);
        Assert.Equal(["x1", "x2"], data.Features.Select(f => f.Name));
        Assert.Contains(data.ExcludedColumns, c => c.Name == "id");
    }

    [Theory]
    [InlineData("", "empty-file")]
    [InlineData("a,b,c\n", "header-only")]
    [InlineData("value\n1\n2\n3\n", "one-column")]
    [InlineData("a,b\n1,\n2,\n3,NA\n", "target-all-missing")]
    [InlineData("a,b\n1,x\n2,x\n3,x\n", "single-class")]
    [InlineData("a,a\n1,2\n", "duplicate-column")]
    [InlineData("a,b\n1,2\n2,3\n", "too-few-rows")]
    public async Task BuildAsync_BadInput_IsRejectedWithReason(string csv, string reason)
    {
        var rejection = await RejectAsync(Encoding.UTF8.GetBytes(csv));

        Assert.Equal(reason, rejection.Reason);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
    }

    [Fact]
    public async Task BuildAsync_BinaryGarbage_IsRejectedAsBinary()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);

        var rejection = await RejectAsync(bytes);

        Assert.Equal("binary-content", rejection.Reason);
    }

    [Fact]
    public async Task BuildAsync_ManyRaggedRows_IsRejectedNamingTheFirstLine()
    {
        var csv = new StringBuilder("a,b,c\n");
        for (var i = 0; i < 30; i++)
        {
            csv.Append(i % 3 == 0 ? $"{i},{i}\n" : $"{i},{i},{i % 2}\n");
        }

        var rejection = await RejectAsync(Encoding.UTF8.GetBytes(csv.ToString()));

        Assert.Equal("ragged-rows", rejection.Reason);
        Assert.Equal(2, rejection.Line);
    }

    [Fact]
    public async Task BuildAsync_FewRaggedRows_AreDroppedWithAWarning()
    {
        var csv = new StringBuilder("a,b,c\n");
        for (var i = 0; i < 60; i++)
        {
            csv.Append(i == 10 ? "1,2\n" : $"{i},{i * 3 % 11},{i % 2}\n");
        }

        var data = await BuildAsync(csv.ToString());

        Assert.Equal(1, data.Rows.DroppedRagged);
        Assert.Equal(59, data.Rows.Used);
        Assert.Contains(data.Warnings, w => w.Contains("line 12", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BuildAsync_Utf8BomAndCrlfAndQuotes_AreRead()
    {
        var csv = new StringBuilder("\"size, cm\",weight,kind\r\n");
        for (var i = 0; i < 40; i++)
        {
            csv.Append(i).Append(",\"").Append(i * 2).Append("\",").Append(i % 2 == 0 ? "\"a, b\"" : "c").Append("\r\n");
        }

        var data = await BuildAsync([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(csv.ToString())]);

        Assert.Equal(["size, cm", "weight"], data.Features.Select(f => f.Name));
        Assert.Equal(["a, b", "c"], data.Labels);
    }
}
