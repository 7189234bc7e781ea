using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Tests.Core.Datasets;

public class DistributionsTests
{
    [Fact]
    public void QuantileEdges_OneToHundred_CutsAtEveryTenth()
    {
        var values = Enumerable.Range(1, 100).Select(v => (float)v).ToArray();

        var edges = Distributions.QuantileEdges(values, 10);

        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90], edges);
        Assert.All(Distributions.BinShares(values, edges), s => Assert.Equal(0.1, s, 12));
    }

    [Fact]
    public void QuantileEdges_RepeatedValues_GiveFewerBinsAndNoneAboveTheMaximum()
    {
        float[] values = [.. Enumerable.Repeat(0f, 70), .. Enumerable.Repeat(1f, 30)];

        var edges = Distributions.QuantileEdges(values, 10);

        Assert.Equal([0], edges);
        Assert.Equal([0.7, 0.3], Distributions.BinShares(values, edges));
    }

    [Theory]
    [InlineData(-5, 0)]
    [InlineData(10, 0)]
    [InlineData(10.5, 1)]
    [InlineData(20, 1)]
    [InlineData(90, 8)]
    [InlineData(1e9, 9)]
    public void BinOf_IsRightClosed(double value, int bin) =>
        Assert.Equal(bin, Distributions.BinOf([10, 20, 30, 40, 50, 60, 70, 80, 90], value));

    [Fact]
    public void Psi_KnownShares_MatchesTheFormula()
    {
        // (0.25 − 0.5)·ln(0.25/0.5) + (0.75 − 0.5)·ln(0.75/0.5)
        Assert.Equal(0.274653, Distributions.Psi([0.5, 0.5], [0.25, 0.75]), 6);
        Assert.Equal(0, Distributions.Psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]));
    }

    [Fact]
    public void Psi_EmptyBin_IsFlooredNotInfinite()
    {
        var psi = Distributions.Psi([1, 0], [0, 1]);

        Assert.Equal(2 * (1 - Distributions.PsiFloor) * Math.Log(1 / Distributions.PsiFloor), psi, 9);
    }

    [Fact]
    public void Psi_DifferentBins_Throws() =>
        Assert.Throws<ArgumentException>(() => Distributions.Psi([0.5, 0.5], [1]));

    [Fact]
    public void Build_EncodedSplit_RecordsBinsSharesMissingRatesAndPredictedClasses()
    {
        List<ColumnEncoding> encodings =
        [
            new() { Column = "size", Kind = ColumnKinds.Numeric, Features = ["size"], Missing = [5] },
            new() { Column = "color", Kind = ColumnKinds.Categorical, Categories = ["red", "blue"], Features = ["color=red", "color=blue", "color=*other*"], Missing = [0, 0, 1] },
            new() { Column = "member", Kind = ColumnKinds.Boolean, Features = ["member"], Missing = [0] },
        ];
        float[][] train =
        [
            [1, 2, 3, 4],
            [1, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
            [1, 0, 0, 0],
        ];
        List<FeatureStats> stats = [new() { Name = "size", Missing = 1, Unparseable = 1 }];
        // Test outputs: three rows, classes no/yes.
        float[] outputs = [0.9f, 0.1f, 0.2f, 0.8f, 0.3f, 0.7f];

        var baseline = TrainingBaselines.Build(encodings, ["size", "color=red", "color=blue", "color=*other*", "member"], train, stats, 10, 2, ["no", "yes"], outputs);

        Assert.Equal((2, 4, 3), (baseline.Bins, baseline.TrainRows, baseline.TestRows));
        var size = baseline.Columns[0];
        Assert.Equal(0.2, size.MissingRate, 12);
        Assert.Equal([2], size.Features[0].Edges);
        Assert.Equal([0.5, 0.5], size.Features[0].Shares);
        Assert.Equal((1, 4), (size.Features[0].Min, size.Features[0].Max));
        Assert.Equal(["red", "blue", "*other*"], baseline.Columns[1].Categories);
        Assert.Equal([0.5, 0.25, 0.25], baseline.Columns[1].Shares);
        Assert.Equal(["false", "true"], baseline.Columns[2].Categories);
        Assert.Equal([0.75, 0.25], baseline.Columns[2].Shares);
        Assert.Equal(["no", "yes"], baseline.Predictions!.Categories);
        Assert.Equal(1.0 / 3, baseline.Predictions.Shares[0], 12);
    }
}
