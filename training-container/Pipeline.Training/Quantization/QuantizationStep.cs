using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Quantization;
using Pipeline.Storage;

namespace Pipeline.Training.Quantization;

/// <summary>Every artifact to publish, the one to serve, and the report for the manifest.</summary>
/// <param name="Artifacts">File name (relative to the version folder) → bytes; fp32 always included.</param>
/// <param name="Served">File name of the artifact to serve.</param>
/// <param name="ServedTestMetrics">Test-split metrics of the served artifact, or null when nothing was measured.</param>
/// <param name="Report">What was measured and decided; null when quantization is disabled.</param>
/// <param name="ServedTestOutputs">The served artifact's outputs on the test split (row-major), or null when nothing was measured.</param>
public sealed record QuantizationOutcome(
    IReadOnlyDictionary<string, byte[]> Artifacts, string Served, IReadOnlyDictionary<string, double>? ServedTestMetrics, QuantizationReport? Report,
    float[]? ServedTestOutputs = null);

/// <summary>A smaller model offered to the gate beside the int8 candidates (a distilled student): served only when it keeps quality and is faster.</summary>
/// <param name="Name">Candidate name; its artifact is <c>model.{Name}.onnx</c>.</param>
/// <param name="Description">What it is, for the report and manifest.</param>
/// <param name="Model">The ONNX model, with the same input and output as fp32.</param>
public sealed record AlternativeCandidate(string Name, string Description, byte[] Model);

/// <summary>
/// Builds the int8 candidates of a trained fp32 model (static QDQ calibrated on a train-split sample, and dynamic), measures
/// them next to fp32, and lets <see cref="QuantizationGate"/> choose what to serve. A graph the quantizer does not understand,
/// or a candidate ONNX Runtime cannot run, is recorded with its reason and fp32 is served; the fp32 model is never at risk.
/// </summary>
public sealed partial class QuantizationStep(IOptions<QuantizationOptions> options, ILogger<QuantizationStep> logger)
{
    public const string DynamicCandidate = "int8-dynamic";

    /// <summary>Candidate name of the static QDQ model with the given weight scales: <c>int8-qdq-per-channel</c> or <c>int8-qdq-per-tensor</c>.</summary>
    public static string StaticCandidate(WeightGranularity granularity) => $"int8-qdq-{Granularity(granularity)}";

    public static string ArtifactFile(string candidate) => candidate == QuantizationGate.Fp32 ? StorageNames.ModelFile : $"model.{candidate}.onnx";

    /// <param name="fp32">The verified fp32 model.</param>
    /// <param name="inputName">Its float <c>[batch, features]</c> input.</param>
    /// <param name="outputName">The output the predict function reads.</param>
    /// <param name="calibration">Train-split rows (row-major) to sample calibration rows from.</param>
    /// <param name="calibrationRows">Number of rows in <paramref name="calibration"/>.</param>
    /// <param name="test">The test split.</param>
    /// <param name="seed">Seed of the calibration sample.</param>
    /// <param name="alternatives">Other candidates measured and judged like the int8 ones (e.g. a distilled student).</param>
    public QuantizationOutcome Run(byte[] fp32, string inputName, string outputName, float[] calibration, int calibrationRows, EvaluationSet test, int seed, CancellationToken cancellationToken,
        IReadOnlyList<AlternativeCandidate>? alternatives = null)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(test);
        var o = options.Value;
        var artifacts = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [StorageNames.ModelFile] = fp32 };
        if (!o.Enabled)
        {
            return new QuantizationOutcome(artifacts, StorageNames.ModelFile, null, null);
        }

        var model = OnnxGraph.Load(fp32);
        alternatives ??= [];
        var quantizable = model.Graph.Node.Any(n => n.OpType is "Gemm" or "MatMul");
        var notApplicable = quantizable ? null : $"int8 not applicable: the graph ({string.Join(", ", OnnxGraph.OperatorTypes(model).Distinct())}) has no Gemm or MatMul weights to quantize";
        if (!quantizable && alternatives.Count == 0)
        {
            // Tree ensembles and other graphs without weight matrices: int8 has nothing to act on.
            var operators = string.Join(", ", OnnxGraph.OperatorTypes(model).Distinct());
            LogNotApplicable(logger, operators);
            return new QuantizationOutcome(artifacts, StorageNames.ModelFile, null, new QuantizationReport
            {
                Policy = o.Policy.ToString(),
                Served = QuantizationGate.Fp32,
                Reason = $"not applicable: the graph ({operators}) has no Gemm or MatMul weights to quantize",
                QualityMetric = test.QualityMetric,
                MaxRelativeQualityLoss = o.MaxRelativeQualityLoss,
                Candidates =
                [
                    new ArtifactCandidate
                    {
                        Name = QuantizationGate.Fp32,
                        Artifact = StorageNames.ModelFile,
                        Description = "float32, as exported from the trained model",
                        Bytes = fp32.LongLength,
                        Verdict = "served; nothing to quantize",
                    },
                ],
            });
        }

        var built = new List<(string Name, string Description, byte[]? Bytes, string? Error)>
        {
            (QuantizationGate.Fp32, "float32, as exported from the trained network", fp32, null),
        };
        var calibrated = new Lazy<(Dictionary<string, ActivationRange> Ranges, int Rows)>(() =>
        {
            var sample = Sample(calibration, calibrationRows, test.Width, o.CalibrationRows, seed, out var rows);
            return (ActivationCalibrator.Calibrate(model, inputName, sample, rows, test.Width, o.Calibration, o.Percentile, cancellationToken), rows);
        });
        var calibrationText = o.Calibration == CalibrationMethod.MinMax ? "MinMax" : string.Create(CultureInfo.InvariantCulture, $"{o.Percentile}th percentile");
        foreach (var granularity in quantizable ? o.EffectiveStaticGranularities : [])
        {
            built.Add(Build(StaticCandidate(granularity), () => (OnnxQuantizer.QuantizeStatic(model, calibrated.Value.Ranges, granularity),
                string.Create(CultureInfo.InvariantCulture, $"QDQ: {Granularity(granularity)} symmetric int8 weights, int32 bias, uint8 activations calibrated ({calibrationText}) on {calibrated.Value.Rows} train rows"))));
        }

        if (o.Dynamic && quantizable)
        {
            built.Add(Build(DynamicCandidate, () => (OnnxQuantizer.QuantizeDynamic(model, WeightGranularity.PerChannel),
                "dynamic: per-channel symmetric int8 weights, uint8 activations quantized per batch at run time")));
        }

        built.AddRange(alternatives.Select(a => (a.Name, a.Description, (byte[]?)a.Model, (string?)null)));
        var measurable = built.Where(b => b.Bytes is not null).ToList();
        IReadOnlyList<(CandidateMeasurement? Measurement, string? Error)> measured;
        try
        {
            measured = CandidateMeasurer.Measure([.. measurable.Select(b => b.Bytes!)], inputName, outputName, test, o, cancellationToken);
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or InvalidOperationException or ArgumentException)
        {
            // The fp32 reference itself could not be measured (it was verified before, so this is unexpected): serve it unmeasured.
            LogMeasurementFailed(logger, e.Message);
            return new QuantizationOutcome(
                new Dictionary<string, byte[]>(StringComparer.Ordinal) { [StorageNames.ModelFile] = fp32 },
                StorageNames.ModelFile,
                null,
                new QuantizationReport
                {
                    Policy = o.Policy.ToString(),
                    Served = QuantizationGate.Fp32,
                    Reason = $"fp32 served unmeasured: the candidates could not be measured ({e.Message}).",
                    QualityMetric = test.QualityMetric,
                    MaxRelativeQualityLoss = o.MaxRelativeQualityLoss,
                    Candidates = [.. built.Select(b => new ArtifactCandidate
                    {
                        Name = b.Name,
                        Artifact = b.Name == QuantizationGate.Fp32 ? StorageNames.ModelFile : null,
                        Description = b.Description,
                        Bytes = b.Bytes?.LongLength,
                        Verdict = b.Name == QuantizationGate.Fp32 ? "served; unmeasured" : "not measured",
                        Error = b.Error ?? (b.Name == QuantizationGate.Fp32 ? null : e.Message),
                    })],
                });
        }

        var results = new Dictionary<string, (CandidateMeasurement? Measurement, string? Error)>(StringComparer.Ordinal);
        for (var i = 0; i < measurable.Count; i++)
        {
            results[measurable[i].Name] = measured[i];
        }

        foreach (var failed in built.Where(b => b.Bytes is null))
        {
            results[failed.Name] = (null, failed.Error);
        }

        var reference = results[QuantizationGate.Fp32].Measurement!;
        var decision = QuantizationGate.Decide(
            reference,
            [.. built.Skip(1).Select(b => new CandidateResult(b.Name, results[b.Name].Measurement, results[b.Name].Error))],
            o.Policy,
            o.MaxRelativeQualityLoss,
            o.MaxLatencyRatio);

        var report = new QuantizationReport
        {
            Policy = o.Policy.ToString(),
            Served = decision.Served,
            Reason = notApplicable is null ? decision.Reason : $"{notApplicable}; {decision.Reason}",
            QualityMetric = test.QualityMetric,
            MaxRelativeQualityLoss = o.MaxRelativeQualityLoss,
        };
        foreach (var (name, description, bytes, _) in built)
        {
            var (m, error) = results[name];
            if (bytes is not null)
            {
                artifacts[ArtifactFile(name)] = bytes;
            }

            report.Candidates.Add(new ArtifactCandidate
            {
                Name = name,
                Artifact = bytes is null ? null : ArtifactFile(name),
                Description = description,
                Bytes = bytes?.LongLength,
                Quality = m?.Quality,
                TestMetrics = m is null ? null : new Dictionary<string, double>(m.TestMetrics),
                Agreement = m?.Agreement,
                MaxAbsDifference = m?.MaxAbsDifference,
                LatencyBatch1Microseconds = m?.LatencyBatch1,
                LatencyBatch64Microseconds = m?.LatencyBatch64,
                Verdict = name == QuantizationGate.Fp32
                    ? (decision.Served == QuantizationGate.Fp32 ? "served; reference" : "reference")
                    : decision.Verdicts[name],
                Error = error,
            });
        }

        LogDecision(logger, decision.Served, decision.Reason);
        var servedMeasurement = results[decision.Served].Measurement!;
        return new QuantizationOutcome(artifacts, ArtifactFile(decision.Served), servedMeasurement.TestMetrics, report, servedMeasurement.TestOutputs);
    }

    private (string Name, string Description, byte[]? Bytes, string? Error) Build(string name, Func<(Pipeline.Training.Onnx.Proto.ModelProto Model, string Description)> build)
    {
        try
        {
            var (model, description) = build();
            return (name, description, model.ToByteArray(), null);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException or InvalidOperationException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            LogCandidateFailed(logger, name, e.Message);
            return (name, "", null, e.Message);
        }
    }

    /// <summary>A seeded sample of at most <paramref name="wanted"/> rows (all rows when there are fewer).</summary>
    private static float[] Sample(float[] rowMajor, int rows, int width, int wanted, int seed, out int count)
    {
        if (rows <= wanted)
        {
            count = rows;
            return rowMajor;
        }

        var chosen = Enumerable.Range(0, rows).ToArray();
        new Random(seed).Shuffle(chosen);
        count = wanted;
        var sample = new float[wanted * width];
        for (var i = 0; i < wanted; i++)
        {
            Array.Copy(rowMajor, chosen[i] * width, sample, i * width, width);
        }

        return sample;
    }

    private static string Granularity(WeightGranularity granularity) => granularity == WeightGranularity.PerChannel ? "per-channel" : "per-tensor";

    [LoggerMessage(Level = LogLevel.Information, Message = "Quantization gate serves {Candidate}: {Reason}")]
    private static partial void LogDecision(ILogger logger, string candidate, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Quantization not applicable: the graph ({Operators}) has no weight matrices; serving fp32")]
    private static partial void LogNotApplicable(ILogger logger, string operators);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Quantization candidates could not be measured; serving fp32: {Error}")]
    private static partial void LogMeasurementFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "int8 candidate {Candidate} could not be built: {Error}")]
    private static partial void LogCandidateFailed(ILogger logger, string candidate, string error);
}
