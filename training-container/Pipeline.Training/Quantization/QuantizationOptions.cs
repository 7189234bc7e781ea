using System.ComponentModel.DataAnnotations;
using Pipeline.Training.Onnx.Quantization;

namespace Pipeline.Training.Quantization;

/// <summary>Which artifact the gate serves when int8 candidates pass the quality bound.</summary>
public enum QuantizationPolicy
{
    /// <summary>The int8 candidate fastest at batch 1, if it is no slower than fp32 there; else fp32. The default.</summary>
    FastestWithinQuality,

    /// <summary>The smallest int8 candidate within the quality bound, whatever its latency (memory-bound deployments).</summary>
    SmallestWithinQuality,

    /// <summary>Always fp32; int8 candidates are still built and measured, and reported.</summary>
    Fp32Only,
}

/// <summary>Settings of the int8 quantization step and its gate (configuration section <c>Quantization</c>).</summary>
public sealed class QuantizationOptions
{
    public const string Section = "Quantization";

    /// <summary>Build and measure int8 candidates at all. Off: only fp32 is published.</summary>
    public bool Enabled { get; set; } = true;

    public QuantizationPolicy Policy { get; set; } = QuantizationPolicy.FastestWithinQuality;

    /// <summary>Largest tolerated quality loss (accuracy or R² on the test split) relative to fp32: 0.01 = 1%.</summary>
    [Range(0.0, 1.0)]
    public double MaxRelativeQualityLoss { get; set; } = 0.01;

    /// <summary>
    /// Largest tolerated int8/fp32 ratio of median batch-1 latency under <see cref="QuantizationPolicy.FastestWithinQuality"/>;
    /// 1.0 = "not slower".
    /// </summary>
    [Range(0.1, 10.0)]
    public double MaxLatencyRatio { get; set; } = 1.0;

    /// <summary>
    /// Weight scales of the static (QDQ) candidates, one candidate each; unset means <see cref="DefaultStaticGranularities"/>.
    /// Per-channel is the default scheme; per-tensor is built beside it because ONNX Runtime's per-tensor QGemm measured
    /// faster at batch 1 here, and the gate keeps whichever is better.
    /// </summary>
    /// <remarks>No default in the list itself: the configuration binder appends to an existing list instead of replacing it.</remarks>
    public List<WeightGranularity>? StaticGranularities { get; set; }

    public static IReadOnlyList<WeightGranularity> DefaultStaticGranularities { get; } = [WeightGranularity.PerChannel, WeightGranularity.PerTensor];

    public IReadOnlyList<WeightGranularity> EffectiveStaticGranularities =>
        StaticGranularities is { Count: > 0 } granularities ? [.. granularities.Distinct()] : DefaultStaticGranularities;

    /// <summary>Also build the dynamic candidate (per-channel int8 weights, no calibration data).</summary>
    public bool Dynamic { get; set; } = true;

    public CalibrationMethod Calibration { get; set; } = CalibrationMethod.MinMax;

    /// <summary>Upper quantile (percent) for <see cref="CalibrationMethod.Percentile"/>.</summary>
    [Range(90.0, 100.0)]
    public double Percentile { get; set; } = 99.99;

    /// <summary>Rows sampled (seeded) from the train split for calibration; a smaller split is used whole.</summary>
    [Range(1, 1_000_000)]
    public int CalibrationRows { get; set; } = 512;

    /// <summary>Untimed runs per candidate and batch size before timing.</summary>
    [Range(0, 100_000)]
    public int WarmupRuns { get; set; } = 100;

    /// <summary>Timed samples per candidate and batch size; the gate compares medians.</summary>
    [Range(5, 100_000)]
    public int LatencySamples { get; set; } = 200;

    /// <summary>Runs per timed sample (a sample is their mean), so microsecond runs are not dominated by timer overhead.</summary>
    [Range(1, 1_000)]
    public int RunsPerSample { get; set; } = 8;
}
