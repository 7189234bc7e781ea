using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Training;

namespace Pipeline.Training.Quantization;

/// <summary>The test split, row-major, as every candidate is evaluated on it.</summary>
/// <param name="RowMajor">Raw feature values, row-major.</param>
/// <param name="Rows">Number of rows.</param>
/// <param name="Width">Features per row.</param>
/// <param name="Target">Class index or value per row.</param>
/// <param name="Classes">Number of classes; 0 for regression.</param>
public sealed record EvaluationSet(float[] RowMajor, int Rows, int Width, float[] Target, int Classes)
{
    public bool Classification => Classes > 0;

    public string QualityMetric => Classification ? "accuracy" : "r2";
}

/// <summary>
/// Measures artifacts the way the predict function runs them (ONNX Runtime, all graph optimizations, one intra-op thread):
/// quality and agreement with the first (reference) artifact on the test split, file size, and median latency at batch 1
/// and 64. Latency samples are interleaved across candidates, round by round in rotating order, so load from elsewhere on
/// the machine falls on all of them alike.
/// </summary>
public static class CandidateMeasurer
{
    public const int LargeBatch = 64;

    /// <summary>Measures every candidate; the first is the reference the others' agreement is computed against and must load.</summary>
    /// <returns>One result per candidate, in order: a measurement, or the error that prevented it.</returns>
    public static IReadOnlyList<(CandidateMeasurement? Measurement, string? Error)> Measure(
        IReadOnlyList<byte[]> candidates, string inputName, string outputName, EvaluationSet test, QuantizationOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        var runners = new Runner?[candidates.Count];
        var errors = new string?[candidates.Count];
        var outputs = new float[]?[candidates.Count];
        try
        {
            for (var i = 0; i < candidates.Count; i++)
            {
                try
                {
                    runners[i] = new Runner(new InferenceSession(candidates[i], sessionOptions), inputName, outputName, test);
                    outputs[i] = runners[i]!.Evaluate();
                    if (outputs[i]!.Any(v => !float.IsFinite(v)))
                    {
                        throw new InvalidOperationException("it produced NaN or infinite outputs on the test split");
                    }
                }
                catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException && i > 0)
                {
                    errors[i] = $"ONNX Runtime could not run it: {e.Message}";
                    runners[i]?.Dispose();
                    runners[i] = null;
                }
            }

            var live = runners.Select((r, i) => (Runner: r, Index: i)).Where(x => x.Runner is not null).ToList();
            var batch1 = TimeRuns(live.Select(x => x.Runner!).ToList(), 1, options, cancellationToken);
            var batch64 = TimeRuns(live.Select(x => x.Runner!).ToList(), LargeBatch, options, cancellationToken);
            var reference = outputs[0]!;
            var results = new (CandidateMeasurement?, string?)[candidates.Count];
            for (var i = 0; i < candidates.Count; i++)
            {
                if (errors[i] is { } error)
                {
                    results[i] = (null, error);
                    continue;
                }

                var position = live.FindIndex(x => x.Index == i);
                var served = outputs[i]!;
                var metrics = test.Classification ? Metrics.Classification(served, test.Target, test.Classes) : Metrics.Regression(served, test.Target);
                results[i] = (new CandidateMeasurement(
                    candidates[i].LongLength,
                    metrics,
                    metrics[test.QualityMetric],
                    test.Classification ? Agreement(served, reference, test.Classes) : null,
                    served.Zip(reference, (a, b) => Math.Abs((double)a - b)).DefaultIfEmpty(0).Max(),
                    batch1[position],
                    batch64[position]) { TestOutputs = served }, null);
            }

            return results;
        }
        finally
        {
            foreach (var runner in runners)
            {
                runner?.Dispose();
            }
        }
    }

    /// <summary>Median microseconds per run for each runner at the given batch size.</summary>
    private static double[] TimeRuns(List<Runner> runners, int batch, QuantizationOptions options, CancellationToken cancellationToken)
    {
        foreach (var runner in runners)
        {
            runner.Prepare(batch);
            for (var w = 0; w < options.WarmupRuns; w++)
            {
                runner.Run();
            }
        }

        var samples = runners.Select(_ => new double[options.LatencySamples]).ToArray();
        for (var s = 0; s < options.LatencySamples; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var k = 0; k < runners.Count; k++)
            {
                var r = (k + s) % runners.Count;
                var runner = runners[r];
                var started = Stopwatch.GetTimestamp();
                for (var n = 0; n < options.RunsPerSample; n++)
                {
                    runner.Run();
                }

                samples[r][s] = Stopwatch.GetElapsedTime(started).TotalMicroseconds / options.RunsPerSample;
            }
        }

        return [.. samples.Select(Median)];
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double Agreement(float[] served, float[] reference, int classes)
    {
        var rows = served.Length / classes;
        var same = 0;
        for (var r = 0; r < rows; r++)
        {
            same += Metrics.ArgMax(served.AsSpan(r * classes, classes)) == Metrics.ArgMax(reference.AsSpan(r * classes, classes)) ? 1 : 0;
        }

        return rows == 0 ? 1 : (double)same / rows;
    }

    /// <summary>One session with input and output buffers bound once, so a timed run is only <c>Run</c>.</summary>
    private sealed class Runner(InferenceSession session, string inputName, string outputName, EvaluationSet test) : IDisposable
    {
        private readonly RunOptions _runOptions = new();
        private readonly string[] _inputNames = [inputName];
        private readonly string[] _outputNames = [outputName];
        private readonly OrtValue[] _inputs = new OrtValue[1];
        private readonly OrtValue[] _outputs = new OrtValue[1];

        public float[] Evaluate()
        {
            using var input = OrtValue.CreateTensorValueFromMemory(test.RowMajor, [test.Rows, test.Width]);
            using var outputs = session.Run(_runOptions, _inputNames, [input], _outputNames);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        /// <summary>Binds a batch of <paramref name="rows"/> test rows (repeated when the split is smaller) and an output buffer.</summary>
        public void Prepare(int rows)
        {
            _inputs[0]?.Dispose();
            _outputs[0]?.Dispose();
            var data = new float[rows * test.Width];
            for (var r = 0; r < rows; r++)
            {
                Array.Copy(test.RowMajor, r % test.Rows * test.Width, data, r * test.Width, test.Width);
            }

            _inputs[0] = OrtValue.CreateTensorValueFromMemory(data, [rows, test.Width]);
            _outputs[0] = OrtValue.CreateTensorValueFromMemory(new float[rows * Math.Max(1, test.Classes)], [rows, Math.Max(1, test.Classes)]);
        }

        public void Run() => session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);

        public void Dispose()
        {
            _inputs[0]?.Dispose();
            _outputs[0]?.Dispose();
            _runOptions.Dispose();
            session.Dispose();
        }
    }
}
