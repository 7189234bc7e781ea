using Pipeline.Training.Quantization;

namespace Pipeline.Tests.Trainer.Quantization;

public class QuantizationGateTests
{
    private static readonly CandidateMeasurement Fp32 = Measured(quality: 0.950, batch1: 10.0, bytes: 40_000);

    [Fact]
    public void Decide_Int8FasterAndWithinQuality_ServesInt8()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality, Candidate("int8-static", quality: 0.948, batch1: 6.0, bytes: 12_000));

        Assert.Equal("int8-static", decision.Served);
        Assert.Contains("int8-static served", decision.Reason, StringComparison.Ordinal);
        Assert.StartsWith("served", decision.Verdicts["int8-static"], StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_Int8SlowerAtBatch1_ServesFp32AndSaysWhy()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality, Candidate("int8-static", quality: 0.950, batch1: 13.4, bytes: 12_000));

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
        Assert.Contains("rejected on latency: 13.4 µs vs fp32 10.0 µs", decision.Verdicts["int8-static"], StringComparison.Ordinal);
        Assert.Contains("rejected on latency", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_Int8LosesMoreThanOnePercentQuality_ServesFp32EvenWhenFaster()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality, Candidate("int8-static", quality: 0.930, batch1: 3.0, bytes: 12_000));

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
        Assert.Contains("rejected on quality: 0.9300 vs fp32 0.9500, a loss of 2.11%", decision.Verdicts["int8-static"], StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_LossJustInsideTheBound_IsEligible()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality, Candidate("int8-static", quality: 0.941, batch1: 9.0, bytes: 12_000));

        Assert.Equal("int8-static", decision.Served);
    }

    [Fact]
    public void Decide_TwoEligible_ServesTheFastestAtBatch1()
    {
        var decision = Decide(
            QuantizationPolicy.FastestWithinQuality,
            Candidate("int8-static", quality: 0.95, batch1: 7.0, bytes: 12_000),
            Candidate("int8-dynamic", quality: 0.95, batch1: 5.0, bytes: 12_500));

        Assert.Equal("int8-dynamic", decision.Served);
        Assert.StartsWith("not served: int8-dynamic ranks first", decision.Verdicts["int8-static"], StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_SmallestPolicy_ServesSmallestEvenWhenSlower()
    {
        var decision = Decide(
            QuantizationPolicy.SmallestWithinQuality,
            Candidate("int8-static", quality: 0.95, batch1: 14.0, bytes: 11_000),
            Candidate("int8-dynamic", quality: 0.95, batch1: 12.0, bytes: 12_000));

        Assert.Equal("int8-static", decision.Served);
    }

    [Fact]
    public void Decide_SmallestPolicy_StillRejectsOnQuality()
    {
        var decision = Decide(QuantizationPolicy.SmallestWithinQuality, Candidate("int8-static", quality: 0.80, batch1: 4.0, bytes: 11_000));

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
    }

    [Fact]
    public void Decide_Fp32OnlyPolicy_ServesFp32AndStillJudgesCandidates()
    {
        var decision = Decide(QuantizationPolicy.Fp32Only, Candidate("int8-static", quality: 0.95, batch1: 4.0, bytes: 11_000));

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
        Assert.Contains("policy Fp32Only", decision.Verdicts["int8-static"], StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_CandidateThatFailed_IsRejectedWithItsError()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality, new CandidateResult("int8-static", null, "The graph has no Gemm node"));

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
        Assert.Contains("The graph has no Gemm node", decision.Verdicts["int8-static"], StringComparison.Ordinal);
        Assert.Contains("The graph has no Gemm node", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_NoCandidates_ServesFp32()
    {
        var decision = Decide(QuantizationPolicy.FastestWithinQuality);

        Assert.Equal(QuantizationGate.Fp32, decision.Served);
        Assert.Empty(decision.Verdicts);
    }

    [Fact]
    public void Decide_RegressionWithNegativeR2_BoundIsRelativeToItsMagnitude()
    {
        var fp32 = Measured(quality: -0.5, batch1: 10, bytes: 40_000);

        var within = QuantizationGate.Decide(fp32, [Candidate("int8-static", quality: -0.504, batch1: 5, bytes: 10_000)], QuantizationPolicy.FastestWithinQuality, 0.01, 1.0);
        var beyond = QuantizationGate.Decide(fp32, [Candidate("int8-static", quality: -0.51, batch1: 5, bytes: 10_000)], QuantizationPolicy.FastestWithinQuality, 0.01, 1.0);

        Assert.Equal("int8-static", within.Served);
        Assert.Equal(QuantizationGate.Fp32, beyond.Served);
    }

    [Fact]
    public void Decide_LatencyTolerance_AllowsSlightlySlowerInt8()
    {
        var candidate = Candidate("int8-static", quality: 0.95, batch1: 10.5, bytes: 12_000);

        Assert.Equal(QuantizationGate.Fp32, QuantizationGate.Decide(Fp32, [candidate], QuantizationPolicy.FastestWithinQuality, 0.01, 1.0).Served);
        Assert.Equal("int8-static", QuantizationGate.Decide(Fp32, [candidate], QuantizationPolicy.FastestWithinQuality, 0.01, 1.1).Served);
    }

    private static GateDecision Decide(QuantizationPolicy policy, params CandidateResult[] candidates) =>
        QuantizationGate.Decide(Fp32, candidates, policy, maxRelativeQualityLoss: 0.01, maxLatencyRatio: 1.0);

    private static CandidateResult Candidate(string name, double quality, double batch1, long bytes) => new(name, Measured(quality, batch1, bytes));

    private static CandidateMeasurement Measured(double quality, double batch1, long bytes) =>
        new(bytes, new Dictionary<string, double> { ["accuracy"] = quality }, quality, 1.0, 0.01, batch1, batch1 * 8);
}
