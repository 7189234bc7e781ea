using System.Globalization;

namespace Pipeline.Training.Quantization;

/// <summary>What was measured of one artifact on the test split.</summary>
/// <param name="Bytes">File size.</param>
/// <param name="TestMetrics">All metrics on the test split.</param>
/// <param name="Quality">The gate's quality metric (accuracy or R²; higher is better).</param>
/// <param name="Agreement">Classification: share of rows with fp32's predicted class; null for regression.</param>
/// <param name="MaxAbsDifference">Largest absolute output difference from fp32.</param>
/// <param name="LatencyBatch1">Median µs of a 1-row run.</param>
/// <param name="LatencyBatch64">Median µs of a 64-row run.</param>
public sealed record CandidateMeasurement(
    long Bytes, IReadOnlyDictionary<string, double> TestMetrics, double Quality, double? Agreement, double MaxAbsDifference, double LatencyBatch1, double LatencyBatch64)
{
    /// <summary>The artifact's outputs on the test split, row-major (not used by the gate; kept for the training report).</summary>
    public float[] TestOutputs { get; init; } = [];
}

/// <summary>An int8 candidate as the gate sees it: measured, or failed with a reason.</summary>
public sealed record CandidateResult(string Name, CandidateMeasurement? Measurement, string? Error = null);

/// <summary>The artifact to serve, why, and a verdict per int8 candidate.</summary>
public sealed record GateDecision(string Served, string Reason, IReadOnlyDictionary<string, string> Verdicts);

/// <summary>
/// Decides from measured numbers which artifact to serve. Pure: no measuring here, so every branch is unit-testable.
/// An int8 candidate is eligible when it was measured and its quality loss relative to fp32 is within the bound; under
/// <see cref="QuantizationPolicy.FastestWithinQuality"/> it must also be no slower than fp32 at batch 1 (times the tolerated
/// ratio). Among eligible candidates the fastest at batch 1 (or the smallest, by policy) wins; with none, fp32 is served.
/// </summary>
public static class QuantizationGate
{
    public const string Fp32 = "fp32";

    public static GateDecision Decide(
        CandidateMeasurement fp32, IReadOnlyList<CandidateResult> candidates, QuantizationPolicy policy, double maxRelativeQualityLoss, double maxLatencyRatio)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(candidates);
        var verdicts = new Dictionary<string, string>(StringComparer.Ordinal);
        var eligible = new List<(CandidateResult Candidate, CandidateMeasurement Measured)>();
        var allowedLoss = maxRelativeQualityLoss * Math.Abs(fp32.Quality);
        foreach (var candidate in candidates)
        {
            if (candidate.Measurement is not { } m)
            {
                verdicts[candidate.Name] = $"rejected: could not be built or measured ({candidate.Error ?? "no measurement"})";
                continue;
            }

            var loss = fp32.Quality - m.Quality;
            if (!double.IsFinite(m.Quality) || loss > allowedLoss)
            {
                verdicts[candidate.Name] = Format($"rejected on quality: {m.Quality:F4} vs fp32 {fp32.Quality:F4}, a loss of {RelativePercent(loss, fp32.Quality)} (allowed {maxRelativeQualityLoss * 100:0.##}%)");
                continue;
            }

            if (policy == QuantizationPolicy.FastestWithinQuality && m.LatencyBatch1 > fp32.LatencyBatch1 * maxLatencyRatio)
            {
                verdicts[candidate.Name] = Format($"rejected on latency: {m.LatencyBatch1:F1} µs vs fp32 {fp32.LatencyBatch1:F1} µs at batch 1 ({m.LatencyBatch1 / fp32.LatencyBatch1:F2}×, allowed {maxLatencyRatio:F2}×)");
                continue;
            }

            verdicts[candidate.Name] = Format($"eligible: quality {m.Quality:F4} vs fp32 {fp32.Quality:F4}, {m.LatencyBatch1:F1} vs {fp32.LatencyBatch1:F1} µs at batch 1, {(double)fp32.Bytes / m.Bytes:F1}× smaller");
            eligible.Add((candidate, m));
        }

        if (policy == QuantizationPolicy.Fp32Only)
        {
            foreach (var (candidate, _) in eligible)
            {
                verdicts[candidate.Name] = "not served: policy Fp32Only; " + verdicts[candidate.Name];
            }

            return new GateDecision(Fp32, "Policy Fp32Only serves the fp32 model.", verdicts);
        }

        if (eligible.Count == 0)
        {
            var why = candidates.Count == 0 ? "no int8 candidate was built" : string.Join("; ", candidates.Select(c => $"{c.Name} {verdicts[c.Name]}"));
            return new GateDecision(Fp32, $"fp32 served: {why}.", verdicts);
        }

        var chosen = policy == QuantizationPolicy.SmallestWithinQuality
            ? eligible.OrderBy(e => e.Measured.Bytes).ThenBy(e => e.Measured.LatencyBatch1).First()
            : eligible.OrderBy(e => e.Measured.LatencyBatch1).ThenBy(e => e.Measured.Bytes).First();
        foreach (var (candidate, _) in eligible.Where(e => e.Candidate != chosen.Candidate))
        {
            verdicts[candidate.Name] = $"not served: {chosen.Candidate.Name} ranks first under {policy}; {verdicts[candidate.Name]}";
        }

        var c = chosen.Measured;
        verdicts[chosen.Candidate.Name] = "served; " + verdicts[chosen.Candidate.Name];
        var reason = Format($"{chosen.Candidate.Name} served ({policy}): quality {c.Quality:F4} vs fp32 {fp32.Quality:F4} (within {maxRelativeQualityLoss * 100:0.##}%), ")
            + Format($"batch 1 {c.LatencyBatch1:F1} µs vs {fp32.LatencyBatch1:F1} µs ({fp32.LatencyBatch1 / c.LatencyBatch1:F2}× speed), ")
            + Format($"batch 64 {c.LatencyBatch64:F1} µs vs {fp32.LatencyBatch64:F1} µs, {c.Bytes} vs {fp32.Bytes} bytes.");
        return new GateDecision(chosen.Candidate.Name, reason, verdicts);
    }

    private static string RelativePercent(double loss, double reference) =>
        reference == 0 ? Format($"{loss:F4} absolute") : Format($"{loss / Math.Abs(reference) * 100:F2}%");

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
