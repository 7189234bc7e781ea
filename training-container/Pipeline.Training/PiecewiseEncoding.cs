using Pipeline.Training.Onnx;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// Piecewise-linear encoding of numeric features (Gorishniy et al., "On Embeddings for Numerical Features in Tabular Deep
/// Learning", 2022): each standardized feature x becomes [x, e₁ … e_T] with eₜ = clamp((x − bₜ₋₁) / (bₜ − bₜ₋₁), 0, 1) over
/// its train-split quantile bins. It lets an MLP (or a linear model, which then is an additive model) follow thresholds and
/// skewed features that trees handle well.
/// <para>
/// Every encoded value is the difference of two ReLUs — x = relu(x) − relu(−x), clamp(z, 0, 1) = relu(z) − relu(z − 1) — so
/// the encoding is a fixed Gemm + Relu layer in front of the network, and the network's first layer takes [W, −W]: the
/// exported graph is still standardization, Gemm, Relu, …, which the exporter and the quantizer already handle.
/// </para>
/// </summary>
public sealed class PiecewiseEncoding : IDisposable
{
    private readonly float[] _weight;
    private readonly float[] _bias;
    private readonly Tensor _a;
    private readonly Tensor _c;

    /// <param name="standardizedColumns">Train-split feature columns, already standardized.</param>
    /// <param name="bins">Quantile bins per feature (fewer where a feature has fewer distinct values).</param>
    /// <param name="device">Where the encoding runs.</param>
    public PiecewiseEncoding(float[][] standardizedColumns, int bins, Device device)
    {
        ArgumentNullException.ThrowIfNull(standardizedColumns);
        Bins = bins;
        Inputs = standardizedColumns.Length;
        var units = new List<(int Feature, float Scale, float Offset)>();
        foreach (var (column, feature) in standardizedColumns.Select((c, i) => (c, i)))
        {
            units.Add((feature, 1f, 0f));
            var sorted = column.Order().ToArray();
            var edges = new List<float>();
            for (var k = 0; k <= bins; k++)
            {
                var edge = sorted[(int)Math.Min(sorted.Length - 1, Math.Round(k * (sorted.Length - 1) / (double)bins))];
                // Bins narrower than MinimumBinWidth are merged: a steep bin would amplify float rounding (the exported
                // Gemm sums in another order than TorchSharp) beyond the ONNX parity tolerance.
                if (edges.Count == 0 || edge >= edges[^1] + MinimumBinWidth)
                {
                    edges.Add(edge);
                }
            }

            for (var t = 1; t < edges.Count; t++)
            {
                var scale = 1f / (edges[t] - edges[t - 1]);
                units.Add((feature, scale, -edges[t - 1] * scale));
            }
        }

        Width = units.Count;

        // Rows 0..Width-1: relu(z); rows Width..2·Width-1: the partner relu(−x) (passthrough) or relu(z − 1) (bins).
        _weight = new float[2 * Width * Inputs];
        _bias = new float[2 * Width];
        for (var j = 0; j < Width; j++)
        {
            var (feature, scale, offset) = units[j];
            var passthrough = j == 0 || units[j - 1].Feature != feature;
            _weight[(j * Inputs) + feature] = scale;
            _bias[j] = offset;
            _weight[((Width + j) * Inputs) + feature] = passthrough ? -scale : scale;
            _bias[Width + j] = passthrough ? 0 : offset - 1;
        }

        _a = tensor(_weight, [2 * Width, Inputs]).to(device);
        _c = tensor(_bias).to(device);
    }

    /// <summary>Narrowest bin, in standard deviations of the feature.</summary>
    public const float MinimumBinWidth = 0.01f;

    public int Bins { get; }

    /// <summary>Raw (standardized) features in.</summary>
    public int Inputs { get; }

    /// <summary>Encoded values out (the network's input width while training).</summary>
    public int Width { get; }

    /// <summary>The encoding of standardized rows <c>[n, Inputs]</c> → <c>[n, Width]</c>, computed as the exported layers compute it.</summary>
    public Tensor Encode(Tensor standardized)
    {
        using var scope = NewDisposeScope();
        var units = nn.functional.relu(standardized.matmul(_a.t()) + _c);
        return (units.narrow(1, 0, Width) - units.narrow(1, Width, Width)).MoveToOuterDisposeScope();
    }

    /// <summary>The fixed encoding layer (Inputs → 2·Width), followed by Relu in the exported graph.</summary>
    public DenseLayer Layer() => new(Inputs, 2 * Width, (float[])_weight.Clone(), (float[])_bias.Clone());

    /// <summary>The network's first-layer weight <c>[outputs, Width]</c> as it is applied to the encoding layer's units: [W, −W].</summary>
    public float[] ExpandFirstWeight(float[] weight, int outputs)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var expanded = new float[outputs * 2 * Width];
        for (var o = 0; o < outputs; o++)
        {
            for (var j = 0; j < Width; j++)
            {
                var w = weight[(o * Width) + j];
                expanded[(o * 2 * Width) + j] = w;
                expanded[(o * 2 * Width) + Width + j] = -w;
            }
        }

        return expanded;
    }

    public void Dispose()
    {
        _a.Dispose();
        _c.Dispose();
    }
}
