using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Training.Onnx.Proto;
using Pipeline.Training.Onnx.Quantization;

namespace Pipeline.Training.Quantization;

/// <summary>How activation ranges are derived from the calibration pass.</summary>
public enum CalibrationMethod
{
    /// <summary>Smallest and largest value seen.</summary>
    MinMax,

    /// <summary>
    /// The <see cref="QuantizationOptions.Percentile"/> and 100 − percentile quantiles, so a few outliers do not stretch the
    /// range (and coarsen the step) for every other value.
    /// </summary>
    Percentile,
}

/// <summary>
/// Runs the float model in ONNX Runtime over calibration rows with the tensors to quantize exposed as extra outputs, and
/// reduces what it sees to one <see cref="ActivationRange"/> per tensor.
/// </summary>
public static class ActivationCalibrator
{
    private const int ChunkRows = 256;

    /// <param name="model">The float model.</param>
    /// <param name="inputName">Its float <c>[batch, features]</c> input.</param>
    /// <param name="rowMajor">Calibration rows, raw feature values, row-major.</param>
    /// <param name="rows">Number of rows; any positive number (a tiny dataset calibrates on what it has).</param>
    /// <param name="width">Features per row.</param>
    /// <param name="method">MinMax or percentile.</param>
    /// <param name="percentile">For <see cref="CalibrationMethod.Percentile"/>: the upper quantile in percent, e.g. 99.99.</param>
    public static Dictionary<string, ActivationRange> Calibrate(
        ModelProto model, string inputName, float[] rowMajor, int rows, int width, CalibrationMethod method, double percentile, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rowMajor);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        var tensors = OnnxQuantizer.CalibrationTensors(model);
        var augmented = model.Clone();
        var existingOutputs = augmented.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensors.Where(t => !existingOutputs.Contains(t)))
        {
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        var observed = tensors.ToDictionary(t => t, _ => new List<float[]>(), StringComparer.Ordinal);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(augmented.ToByteArray(), options);
        using var runOptions = new RunOptions();
        for (var start = 0; start < rows; start += ChunkRows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(ChunkRows, rows - start);
            var chunk = new float[count * width];
            Array.Copy(rowMajor, start * width, chunk, 0, chunk.Length);
            using var input = OrtValue.CreateTensorValueFromMemory(chunk, [count, width]);
            using var outputs = session.Run(runOptions, [inputName], [input], [.. tensors]);
            for (var i = 0; i < tensors.Count; i++)
            {
                observed[tensors[i]].Add(outputs[i].GetTensorDataAsSpan<float>().ToArray());
            }
        }

        return observed.ToDictionary(
            pair => pair.Key,
            pair => method == CalibrationMethod.MinMax ? MinMax(pair.Value) : Quantiles(pair.Value, percentile),
            StringComparer.Ordinal);
    }

    private static ActivationRange MinMax(List<float[]> chunks)
    {
        var (min, max) = (float.PositiveInfinity, float.NegativeInfinity);
        foreach (var value in chunks.SelectMany(c => c).Where(float.IsFinite))
        {
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }

        return float.IsFinite(min) ? new ActivationRange(min, max) : new ActivationRange(0, 0);
    }

    private static ActivationRange Quantiles(List<float[]> chunks, double percentile)
    {
        var values = chunks.SelectMany(c => c).Where(float.IsFinite).ToArray();
        if (values.Length == 0)
        {
            return new ActivationRange(0, 0);
        }

        Array.Sort(values);
        float At(double p) => values[(int)Math.Clamp(Math.Round(p / 100 * (values.Length - 1)), 0, values.Length - 1)];
        return new ActivationRange(At(100 - percentile), At(percentile));
    }
}
