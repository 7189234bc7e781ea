using System.Globalization;
using Pipeline.Training.Onnx.Proto;
using static Pipeline.Training.Onnx.OnnxBuilder;

namespace Pipeline.Training.Onnx.Quantization;

/// <summary>
/// Post-training int8 quantization of the fully connected layers (<c>Gemm</c> with constant weights) of an ONNX graph, in the
/// two forms ONNX Runtime turns into integer kernels on CPU:
/// <list type="bullet">
/// <item><b>Static QDQ</b> (<see cref="QuantizeStatic"/>): uint8 activations with calibrated ranges
/// (<c>QuantizeLinear → DequantizeLinear</c>), int8 symmetric weights and int32 bias behind <c>DequantizeLinear</c>, feeding
/// the original <c>Gemm</c> with <c>alpha</c>, <c>beta</c>, <c>transA</c>, <c>transB</c> written explicitly. ORT fuses each
/// group into <c>com.microsoft.QGemm</c>.</item>
/// <item><b>Dynamic</b> (<see cref="QuantizeDynamic"/>): <c>DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale) → Add(bias)</c>,
/// which ORT fuses into <c>DynamicQuantizeMatMul</c>; activation ranges are measured per batch at run time.</item>
/// </list>
/// Every other node stays float. The input model is not modified.
/// </summary>
public static class OnnxQuantizer
{
    /// <summary>Metadata key naming the quantization applied to a model.</summary>
    public const string MetadataKey = "quantization";

    /// <summary>Default-domain opset from which <c>DequantizeLinear</c> has per-axis scales.</summary>
    public const int MinimumOpset = 13;

    /// <summary>The Gemm nodes that would be quantized, in graph order.</summary>
    /// <exception cref="NotSupportedException">The graph has nothing this quantizer understands; the message says why.</exception>
    public static IReadOnlyList<QuantizableGemm> FindQuantizableGemms(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new NotSupportedException("The model has no graph.");
        var opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < MinimumOpset)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                $"The model uses default-domain opset {opset}; int8 quantization needs opset {MinimumOpset} or later."));
        }

        var graphInputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var initializers = graph.Initializer
            .Where(t => !graphInputs.Contains(t.Name)) // an initializer listed as a graph input can be overridden: not a constant
            .GroupBy(t => t.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

        var found = new List<QuantizableGemm>();
        var skipped = new List<string>();
        for (var i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            if (node.OpType != "Gemm" || node.Domain is not ("" or "ai.onnx"))
            {
                continue;
            }

            if (Describe(node, i, initializers, out var reason) is { } gemm)
            {
                found.Add(gemm);
            }
            else
            {
                skipped.Add($"{NodeLabel(node, i)}: {reason}");
            }
        }

        if (found.Count == 0)
        {
            throw new NotSupportedException(skipped.Count == 0
                ? "The graph has no Gemm (fully connected) node; only Gemm layers with constant weights are quantized."
                : $"No Gemm node can be quantized: {string.Join("; ", skipped)}.");
        }

        return found;
    }

    /// <summary>The activation tensors whose ranges <see cref="QuantizeStatic"/> needs: the float input of every quantizable Gemm.</summary>
    /// <inheritdoc cref="FindQuantizableGemms" path="/exception"/>
    public static IReadOnlyList<string> CalibrationTensors(ModelProto model) =>
        [.. FindQuantizableGemms(model).Select(g => g.Input).Distinct(StringComparer.Ordinal)];

    /// <summary>Static QDQ quantization with the given calibrated activation ranges.</summary>
    /// <param name="model">A float model; not modified.</param>
    /// <param name="ranges">A range for every tensor of <see cref="CalibrationTensors"/>.</param>
    /// <param name="granularity">Per-channel or per-tensor weight scales.</param>
    /// <exception cref="NotSupportedException">The graph has nothing this quantizer understands.</exception>
    /// <exception cref="ArgumentException">A range is missing or not finite.</exception>
    public static ModelProto QuantizeStatic(ModelProto model, IReadOnlyDictionary<string, ActivationRange> ranges, WeightGranularity granularity)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var gemms = FindQuantizableGemms(model);
        var result = model.Clone();
        var graph = result.Graph;
        var names = new NameScope(graph);
        var initializers = InitializerLookup(graph);
        var activations = new Dictionary<string, (string Dequantized, float Scale)>(StringComparer.Ordinal);
        var inserted = new Dictionary<int, List<NodeProto>>();

        foreach (var gemm in gemms)
        {
            var node = graph.Node[gemm.NodeIndex];
            var before = new List<NodeProto>();
            if (!activations.TryGetValue(gemm.Input, out var activation))
            {
                if (!ranges.TryGetValue(gemm.Input, out var range))
                {
                    throw new ArgumentException($"No calibrated range for activation tensor '{gemm.Input}'.", nameof(ranges));
                }

                (float scale, byte zeroPoint) parameters;
                try
                {
                    parameters = range.ToUInt8();
                }
                catch (InvalidOperationException e)
                {
                    throw new ArgumentException($"Tensor '{gemm.Input}': {e.Message}", nameof(ranges), e);
                }

                var scaleName = names.Next($"{gemm.Input}.scale");
                var zeroPointName = names.Next($"{gemm.Input}.zero_point");
                var quantized = names.Next($"{gemm.Input}.quantized");
                var dequantized = names.Next($"{gemm.Input}.dequantized");
                graph.Initializer.Add(FloatTensor(scaleName, [parameters.scale]));
                graph.Initializer.Add(UInt8Tensor(zeroPointName, [parameters.zeroPoint]));
                before.Add(Node("QuantizeLinear", names.Next($"{gemm.Input}.quantize"), [gemm.Input, scaleName, zeroPointName], quantized));
                before.Add(Node("DequantizeLinear", names.Next($"{gemm.Input}.dequantize"), [quantized, scaleName, zeroPointName], dequantized));
                activation = (dequantized, parameters.scale);
                activations.Add(gemm.Input, activation);
            }

            var weight = QuantizeWeight(gemm, initializers[gemm.Weight], granularity);
            var channelAxis = gemm.TransposedWeight ? 0 : 1;
            var weightShape = gemm.TransposedWeight ? new long[] { gemm.OutputSize, gemm.InputSize } : [gemm.InputSize, gemm.OutputSize];
            var scaleShape = granularity == WeightGranularity.PerChannel ? new long[] { gemm.OutputSize } : [];
            var weightName = names.Next($"{gemm.Weight}.int8");
            var weightScale = names.Next($"{gemm.Weight}.scale");
            var weightZeroPoint = names.Next($"{gemm.Weight}.zero_point");
            var weightDequantized = names.Next($"{gemm.Weight}.dequantized");
            graph.Initializer.Add(Int8Tensor(weightName, weight.Values, weightShape));
            graph.Initializer.Add(FloatTensor(weightScale, weight.Scales, scaleShape));

            // Zero points are 0 (symmetric) but must be written: ORT 1.31 does not fuse a QDQ Gemm into QGemm without them.
            graph.Initializer.Add(Int8Tensor(weightZeroPoint, new sbyte[weight.Scales.Length], scaleShape));
            before.Add(Node("DequantizeLinear", names.Next($"{gemm.Weight}.dequantize"), [weightName, weightScale, weightZeroPoint], weightDequantized,
                PerAxis(granularity, channelAxis)));

            var inputs = new List<string> { activation.Dequantized, weightDequantized };
            if (gemm.Bias is not null)
            {
                var bias = FloatValues(initializers[gemm.Bias])!;
                var biasScales = weight.Scales.Select(s => s * activation.Scale).ToArray();
                var biasValues = new int[gemm.OutputSize];
                for (var n = 0; n < biasValues.Length; n++)
                {
                    var scale = biasScales[granularity == WeightGranularity.PerChannel ? n : 0];
                    var value = gemm.Beta * (bias.Length == 1 ? bias[0] : bias[n]);
                    biasValues[n] = scale > 0 ? (int)Math.Clamp(Math.Round((double)value / scale), int.MinValue, int.MaxValue) : 0;
                }

                var biasName = names.Next($"{gemm.Bias}.int32");
                var biasScale = names.Next($"{gemm.Bias}.scale");
                var biasZeroPoint = names.Next($"{gemm.Bias}.zero_point");
                var biasDequantized = names.Next($"{gemm.Bias}.dequantized");
                graph.Initializer.Add(Int32Tensor(biasName, biasValues, gemm.OutputSize));
                graph.Initializer.Add(FloatTensor(biasScale, biasScales, scaleShape));
                graph.Initializer.Add(Int32Tensor(biasZeroPoint, new int[biasScales.Length], scaleShape));
                before.Add(Node("DequantizeLinear", names.Next($"{gemm.Bias}.dequantize"), [biasName, biasScale, biasZeroPoint], biasDequantized,
                    PerAxis(granularity, 0)));
                inputs.Add(biasDequantized);
            }

            var rewritten = Node("Gemm", node.Name, [.. inputs], [.. node.Output],
                FloatAttribute("alpha", 1f), FloatAttribute("beta", 1f), IntAttribute("transA", 0), IntAttribute("transB", gemm.TransposedWeight ? 1 : 0));
            rewritten.Domain = node.Domain;
            graph.Node[gemm.NodeIndex] = rewritten;
            inserted[gemm.NodeIndex] = before;
        }

        InsertBefore(graph, inserted);
        RemoveUnusedInitializers(graph, gemms);
        SetMetadata(result, $"int8 static QDQ: {Describe(granularity)} int8 weights, uint8 activations from calibrated ranges, int32 bias");
        return result;
    }

    /// <summary>Dynamic quantization: int8 weights, activations quantized to uint8 per batch at run time; no calibration data.</summary>
    /// <param name="model">A float model; not modified.</param>
    /// <param name="granularity">Per-channel or per-tensor weight scales.</param>
    /// <exception cref="NotSupportedException">The graph has nothing this quantizer understands.</exception>
    public static ModelProto QuantizeDynamic(ModelProto model, WeightGranularity granularity)
    {
        var gemms = FindQuantizableGemms(model);
        var result = model.Clone();
        var graph = result.Graph;
        var names = new NameScope(graph);
        var initializers = InitializerLookup(graph);
        var inserted = new Dictionary<int, List<NodeProto>>();
        var replaced = new HashSet<int>();

        foreach (var gemm in gemms)
        {
            var node = graph.Node[gemm.NodeIndex];
            var weight = QuantizeWeight(gemm, initializers[gemm.Weight], granularity);
            var values = gemm.TransposedWeight ? Transpose(weight.Values, gemm.OutputSize, gemm.InputSize) : weight.Values;
            var scaleShape = granularity == WeightGranularity.PerChannel ? new long[] { gemm.OutputSize } : [];

            // ORT fuses DynamicQuantizeLinear only into the one MatMulInteger that consumes all three of its outputs: one per Gemm.
            var quantized = names.Next($"{gemm.Input}.quantized");
            var inputScale = names.Next($"{gemm.Input}.scale");
            var inputZeroPoint = names.Next($"{gemm.Input}.zero_point");
            var weightName = names.Next($"{gemm.Weight}.int8");
            var weightScale = names.Next($"{gemm.Weight}.scale");
            var weightZeroPoint = names.Next($"{gemm.Weight}.zero_point");
            var product = names.Next($"{node.Output[0]}.int32");
            var productFloat = names.Next($"{node.Output[0]}.int32_float");
            var scale = names.Next($"{node.Output[0]}.scale");
            graph.Initializer.Add(Int8Tensor(weightName, values, gemm.InputSize, gemm.OutputSize));
            graph.Initializer.Add(FloatTensor(weightScale, weight.Scales, scaleShape));
            graph.Initializer.Add(Int8Tensor(weightZeroPoint, new sbyte[weight.Scales.Length], scaleShape));

            var prefix = string.IsNullOrEmpty(node.Name) ? node.Output[0] : node.Name;
            var nodes = new List<NodeProto>
            {
                Node("DynamicQuantizeLinear", names.Next($"{prefix}.quantize_input"), [gemm.Input], [quantized, inputScale, inputZeroPoint]),
                Node("MatMulInteger", names.Next($"{prefix}.matmul_integer"), [quantized, weightName, inputZeroPoint, weightZeroPoint], product),
                Node("Mul", names.Next($"{prefix}.scale"), [inputScale, weightScale], scale),
                Node("Cast", names.Next($"{prefix}.to_float"), [product], productFloat, IntAttribute("to", (int)TensorProto.Types.DataType.Float)),
            };

            if (gemm.Bias is null)
            {
                nodes.Add(Node("Mul", names.Next($"{prefix}.rescale"), [productFloat, scale], [.. node.Output]));
            }
            else
            {
                var bias = FloatValues(initializers[gemm.Bias])!;
                var biasValues = Enumerable.Range(0, gemm.OutputSize).Select(n => gemm.Beta * (bias.Length == 1 ? bias[0] : bias[n])).ToArray();
                var biasName = names.Next($"{gemm.Bias}.folded");
                var scaled = names.Next($"{node.Output[0]}.scaled");
                graph.Initializer.Add(FloatTensor(biasName, biasValues, gemm.OutputSize));
                nodes.Add(Node("Mul", names.Next($"{prefix}.rescale"), [productFloat, scale], scaled));
                nodes.Add(Node("Add", names.Next($"{prefix}.add_bias"), [scaled, biasName], [.. node.Output]));
            }

            inserted[gemm.NodeIndex] = nodes;
            replaced.Add(gemm.NodeIndex);
        }

        InsertBefore(graph, inserted, replaced);
        RemoveUnusedInitializers(graph, gemms);
        SetMetadata(result, $"int8 dynamic: {Describe(granularity)} int8 weights, uint8 activations quantized per batch at run time");
        return result;
    }

    /// <summary>Symmetric int8 over [-127, 127]: scale = max |w| / 127 per output channel (or over the whole matrix).</summary>
    private static (sbyte[] Values, float[] Scales) QuantizeWeight(QuantizableGemm gemm, TensorProto tensor, WeightGranularity granularity)
    {
        var w = FloatValues(tensor)!;
        var (n, k) = (gemm.OutputSize, gemm.InputSize);
        int Channel(int index) => gemm.TransposedWeight ? index / k : index % n;

        var maxAbs = new float[granularity == WeightGranularity.PerChannel ? n : 1];
        for (var i = 0; i < w.Length; i++)
        {
            var c = granularity == WeightGranularity.PerChannel ? Channel(i) : 0;
            maxAbs[c] = Math.Max(maxAbs[c], Math.Abs(w[i] * gemm.Alpha));
        }

        var scales = maxAbs.Select(m => m > 0 ? m / 127f : 1f).ToArray();
        var values = new sbyte[w.Length];
        for (var i = 0; i < w.Length; i++)
        {
            var scale = scales[granularity == WeightGranularity.PerChannel ? Channel(i) : 0];
            values[i] = (sbyte)Math.Clamp(MathF.Round(w[i] * gemm.Alpha / scale), -127f, 127f);
        }

        return (values, scales);
    }

    private static sbyte[] Transpose(sbyte[] values, int rows, int columns)
    {
        var result = new sbyte[values.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                result[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return result;
    }

    private static QuantizableGemm? Describe(NodeProto node, int index, Dictionary<string, TensorProto> initializers, out string reason)
    {
        float Float(string name, float fallback) => node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;
        long Int(string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;

        if (node.Input.Count is < 2 or > 3 || node.Output.Count != 1 || string.IsNullOrEmpty(node.Input[0]))
        {
            reason = "unexpected inputs or outputs";
            return null;
        }

        if (Int("transA") != 0)
        {
            reason = "transA is set";
            return null;
        }

        if (!initializers.TryGetValue(node.Input[1], out var weight) || weight.Dims.Count != 2 || FloatValues(weight) is null)
        {
            reason = $"weight '{node.Input[1]}' is not a constant float32 matrix stored in the model";
            return null;
        }

        var transB = Int("transB") != 0;
        var (n, k) = transB ? (weight.Dims[0], weight.Dims[1]) : (weight.Dims[1], weight.Dims[0]);
        var alpha = Float("alpha", 1f);
        var beta = Float("beta", 1f);
        if (n <= 0 || k <= 0 || !float.IsFinite(alpha) || !float.IsFinite(beta) || FloatValues(weight)!.Any(v => !float.IsFinite(v)))
        {
            reason = "empty or non-finite weight, alpha or beta";
            return null;
        }

        string? bias = null;
        if (node.Input.Count == 3 && !string.IsNullOrEmpty(node.Input[2]))
        {
            bias = node.Input[2];
            var count = initializers.TryGetValue(bias, out var b) ? FloatValues(b)?.Length ?? -1 : -1;
            var rowVector = b is not null && (b.Dims.Count == 1 || (b.Dims.Count == 2 && b.Dims[0] == 1));
            if (!rowVector || (count != n && count != 1) || FloatValues(b!)!.Any(v => !float.IsFinite(v)))
            {
                reason = $"bias '{bias}' is not a constant float32 vector of {n} values";
                return null;
            }
        }

        reason = "";
        return new QuantizableGemm(index, node.Input[0], node.Input[1], bias, checked((int)k), checked((int)n), transB, alpha, beta);
    }

    private static string NodeLabel(NodeProto node, int index) => string.IsNullOrEmpty(node.Name) ? $"Gemm #{index}" : $"Gemm '{node.Name}'";

    private static AttributeProto[] PerAxis(WeightGranularity granularity, int axis) =>
        granularity == WeightGranularity.PerChannel ? [IntAttribute("axis", axis)] : [];

    private static string Describe(WeightGranularity granularity) => granularity == WeightGranularity.PerChannel ? "per-channel" : "per-tensor";

    private static Dictionary<string, TensorProto> InitializerLookup(GraphProto graph) =>
        graph.Initializer.GroupBy(t => t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    /// <summary>Rebuilds the node list with <paramref name="inserted"/> nodes placed before the node at each index (and that node dropped when <paramref name="replaced"/>).</summary>
    private static void InsertBefore(GraphProto graph, Dictionary<int, List<NodeProto>> inserted, HashSet<int>? replaced = null)
    {
        var nodes = new List<NodeProto>(graph.Node.Count + inserted.Values.Sum(l => l.Count));
        for (var i = 0; i < graph.Node.Count; i++)
        {
            if (inserted.TryGetValue(i, out var before))
            {
                nodes.AddRange(before);
            }

            if (replaced is null || !replaced.Contains(i))
            {
                nodes.Add(graph.Node[i]);
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
    }

    /// <summary>Drops the float weights and biases that no node reads any more.</summary>
    private static void RemoveUnusedInitializers(GraphProto graph, IEnumerable<QuantizableGemm> gemms)
    {
        var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var candidates = gemms.SelectMany(g => g.Bias is null ? new[] { g.Weight } : [g.Weight, g.Bias]).Where(n => !used.Contains(n)).ToHashSet(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer.Where(t => candidates.Contains(t.Name)).ToList())
        {
            graph.Initializer.Remove(tensor);
        }

        foreach (var info in graph.ValueInfo.Where(v => candidates.Contains(v.Name)).ToList())
        {
            graph.ValueInfo.Remove(info);
        }
    }

    private static void SetMetadata(ModelProto model, string description)
    {
        foreach (var entry in model.MetadataProps.Where(e => e.Key == MetadataKey).ToList())
        {
            model.MetadataProps.Remove(entry);
        }

        model.MetadataProps.Add(new StringStringEntryProto { Key = MetadataKey, Value = description });
    }

    /// <summary>Unique tensor and node names: every name the graph already uses is taken.</summary>
    private sealed class NameScope
    {
        private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

        public NameScope(GraphProto graph)
        {
            _taken.UnionWith(graph.Input.Select(i => i.Name));
            _taken.UnionWith(graph.Output.Select(o => o.Name));
            _taken.UnionWith(graph.ValueInfo.Select(v => v.Name));
            _taken.UnionWith(graph.Initializer.Select(t => t.Name));
            _taken.UnionWith(graph.Node.SelectMany(n => n.Input.Concat(n.Output).Append(n.Name)));
        }

        public string Next(string preferred)
        {
            var name = preferred;
            for (var i = 2; !_taken.Add(name); i++)
            {
                name = string.Create(CultureInfo.InvariantCulture, $"{preferred}_{i}");
            }

            return name;
        }
    }
}
