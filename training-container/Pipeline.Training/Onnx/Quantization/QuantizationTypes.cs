using System.Globalization;

namespace Pipeline.Training.Onnx.Quantization;

/// <summary>How int8 weight scales are chosen.</summary>
public enum WeightGranularity
{
    /// <summary>One scale per output channel (row of a <c>torch.nn.Linear</c> weight): keeps small-magnitude neurons precise.</summary>
    PerChannel,

    /// <summary>One scale for the whole weight matrix.</summary>
    PerTensor,
}

/// <summary>The observed range of an activation tensor, from which its uint8 affine quantization parameters follow.</summary>
/// <param name="Min">Smallest value seen.</param>
/// <param name="Max">Largest value seen.</param>
public readonly record struct ActivationRange(float Min, float Max)
{
    /// <summary>
    /// Scale and zero point of asymmetric uint8 quantization over the range widened to include 0 (so zero, e.g. ReLU's
    /// output and padding, is exact). An empty range (all zeros) gets scale 1.
    /// </summary>
    /// <exception cref="InvalidOperationException">The range is not finite.</exception>
    public (float Scale, byte ZeroPoint) ToUInt8()
    {
        if (!float.IsFinite(Min) || !float.IsFinite(Max) || Min > Max)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"Activation range [{Min}, {Max}] is not a finite range."));
        }

        var min = Math.Min(Min, 0f);
        var max = Math.Max(Max, 0f);
        if (max <= min)
        {
            return (1f, 0);
        }

        var scale = (max - min) / 255f;
        var zeroPoint = Math.Clamp(MathF.Round(-min / scale), 0f, 255f);
        return (scale, (byte)zeroPoint);
    }
}

/// <summary>
/// A <c>Gemm</c> node the quantizer can rewrite: float input <see cref="Input"/> times a constant float weight, plus an optional
/// constant bias of one value per output.
/// </summary>
/// <param name="NodeIndex">Index of the node in the graph's node list.</param>
/// <param name="Input">Name of the activation tensor (Gemm input A).</param>
/// <param name="Weight">Name of the weight initializer (Gemm input B).</param>
/// <param name="Bias">Name of the bias initializer (Gemm input C), or null.</param>
/// <param name="InputSize">K: the inner dimension.</param>
/// <param name="OutputSize">N: the number of outputs (channels).</param>
/// <param name="TransposedWeight">Gemm's <c>transB</c>: the weight is stored <c>[N, K]</c> (true) or <c>[K, N]</c> (false).</param>
/// <param name="Alpha">Gemm's <c>alpha</c>, folded into the weight.</param>
/// <param name="Beta">Gemm's <c>beta</c>, folded into the bias.</param>
public sealed record QuantizableGemm(int NodeIndex, string Input, string Weight, string? Bias, int InputSize, int OutputSize, bool TransposedWeight, float Alpha, float Beta);
