using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Pipeline.Training.Onnx.Proto;
using static Pipeline.Contracts.OnnxContract;
using static Pipeline.Training.Onnx.OnnxBuilder;

namespace Pipeline.Training.Onnx;

/// <summary>
/// Writes a trained <see cref="MlpDefinition"/> as an ONNX model:
/// <c>features → Sub(mean) → Mul(1/std) → Gemm [→ Relu → Gemm]… → Softmax(axis=1) | Mul(TargetStd) → Add(TargetMean)</c>.
/// </summary>
public static class OnnxMlpExporter
{
    /// <summary>Default-domain operator set the graph uses.</summary>
    public const int OpsetVersion = 17;

    /// <summary>ONNX IR version written.</summary>
    public const int IrVersion = 8;

    /// <summary>Value of <c>producer_name</c>.</summary>
    public const string ProducerName = "serverless-ml-pipeline";

    /// <summary>Builds the ONNX model of <paramref name="definition"/>.</summary>
    /// <param name="definition">The trained network; validated first.</param>
    /// <param name="metadata">Extra <c>metadata_props</c>; must not use the keys this exporter writes itself.</param>
    /// <exception cref="ArgumentException">The definition or metadata is inconsistent; the message names the problem.</exception>
    public static ModelProto Build(MlpDefinition definition, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (FindProblem(definition) is { } problem)
        {
            throw new ArgumentException($"Invalid MLP definition: {problem}", nameof(definition));
        }

        ValidateMetadata(metadata);

        var featureCount = definition.FeatureNames.Count;
        var outputCount = definition.Layers[^1].OutputSize;
        var graph = new GraphProto { Name = "mlp" };
        graph.Input.Add(FloatMatrixValue(InputName, featureCount));

        graph.Initializer.Add(FloatTensor("standardize.mean", definition.FeatureMean, featureCount));
        graph.Initializer.Add(FloatTensor(
            "standardize.inv_std",
            [.. definition.FeatureStd.Select(std => 1f / MlpDefinition.EffectiveStd(std))],
            featureCount));
        graph.Node.Add(Node("Sub", "standardize.sub", [InputName, "standardize.mean"], "standardize.centered"));
        graph.Node.Add(Node("Mul", "standardize.scale", ["standardize.centered", "standardize.inv_std"], "standardized"));

        var current = "standardized";
        for (var i = 0; i < definition.Layers.Count; i++)
        {
            var layer = definition.Layers[i];
            var prefix = $"layer{i}";
            graph.Initializer.Add(FloatTensor($"{prefix}.weight", layer.Weight, layer.OutputSize, layer.InputSize));
            graph.Initializer.Add(FloatTensor($"{prefix}.bias", layer.Bias, layer.OutputSize));
            graph.Node.Add(Node(
                "Gemm",
                $"{prefix}.gemm",
                [current, $"{prefix}.weight", $"{prefix}.bias"],
                $"{prefix}.output",
                FloatAttribute("alpha", 1f),
                FloatAttribute("beta", 1f),
                IntAttribute("transA", 0),
                IntAttribute("transB", 1)));
            current = $"{prefix}.output";

            if (i < definition.Layers.Count - 1)
            {
                graph.Node.Add(Node("Relu", $"{prefix}.relu", [current], $"{prefix}.activation"));
                current = $"{prefix}.activation";
            }
        }

        if (definition.Task == MlpTask.Classification)
        {
            graph.Node.Add(Node("Softmax", "softmax", [current], ProbabilitiesOutput, IntAttribute("axis", 1)));
            graph.Output.Add(FloatMatrixValue(ProbabilitiesOutput, outputCount));
        }
        else
        {
            graph.Initializer.Add(FloatTensor("target.std", [MlpDefinition.EffectiveStd(definition.TargetStd)], 1));
            graph.Initializer.Add(FloatTensor("target.mean", [definition.TargetMean], 1));
            graph.Node.Add(Node("Mul", "target.scale", [current, "target.std"], "target.scaled"));
            graph.Node.Add(Node("Add", "target.shift", ["target.scaled", "target.mean"], ValueOutput));
            graph.Output.Add(FloatMatrixValue(ValueOutput, outputCount));
        }

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        model.MetadataProps.Add(Entry(
            TaskMetadataKey,
            definition.Task == MlpTask.Classification ? "classification" : "regression"));
        model.MetadataProps.Add(Entry(FeaturesMetadataKey, JsonStringArray(definition.FeatureNames)));
        if (definition.Task == MlpTask.Classification)
        {
            model.MetadataProps.Add(Entry(LabelsMetadataKey, JsonStringArray(definition.ClassLabels!)));
        }

        if (metadata is not null)
        {
            foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                model.MetadataProps.Add(Entry(key, value));
            }
        }

        return model;
    }

    /// <summary>Builds the ONNX model of <paramref name="definition"/> and serializes it (the bytes of a <c>.onnx</c> file).</summary>
    /// <inheritdoc cref="Build" path="/param"/>
    /// <inheritdoc cref="Build" path="/exception"/>
    public static byte[] Export(MlpDefinition definition, IReadOnlyDictionary<string, string>? metadata = null) =>
        Build(definition, metadata).ToByteArray();

    /// <summary>The first inconsistency in <paramref name="definition"/>, or null when it can be exported.</summary>
    private static string? FindProblem(MlpDefinition definition)
    {
        if (!Enum.IsDefined(definition.Task))
        {
            return $"Task {definition.Task} is not a known task.";
        }

        var features = definition.FeatureNames;
        if (features is null || features.Count == 0)
        {
            return "FeatureNames is empty; the model needs at least one feature.";
        }

        var problem = DistinctNamesProblem(features, nameof(MlpDefinition.FeatureNames))
            ?? FiniteVectorProblem(definition.FeatureMean, features.Count, nameof(MlpDefinition.FeatureMean), "the number of features")
            ?? FiniteVectorProblem(definition.FeatureStd, features.Count, nameof(MlpDefinition.FeatureStd), "the number of features");
        if (problem is not null)
        {
            return problem;
        }

        var layers = definition.Layers;
        if (layers is null || layers.Count == 0)
        {
            return "Layers is empty; the model needs at least one layer.";
        }

        var expectedInput = features.Count;
        for (var i = 0; i < layers.Count; i++)
        {
            var name = $"Layers[{i}]";
            var layer = layers[i];
            if (layer is null)
            {
                return $"{name} is null.";
            }

            if (layer.InputSize <= 0 || layer.OutputSize <= 0)
            {
                return $"{name} has InputSize {layer.InputSize} and OutputSize {layer.OutputSize}; both must be positive.";
            }

            if (layer.InputSize != expectedInput)
            {
                var source = i == 0 ? "the number of features" : $"Layers[{i - 1}].OutputSize";
                return $"{name}.InputSize is {layer.InputSize} but {source} is {expectedInput}; layers must chain.";
            }

            var weightCount = (long)layer.OutputSize * layer.InputSize;
            if (layer.Weight is null || layer.Weight.LongLength != weightCount)
            {
                return $"{name}.Weight has {layer.Weight?.Length ?? 0} values; expected OutputSize × InputSize = {weightCount}.";
            }

            problem = FiniteProblem(layer.Weight, $"{name}.Weight")
                ?? FiniteVectorProblem(layer.Bias, layer.OutputSize, $"{name}.Bias", "OutputSize");
            if (problem is not null)
            {
                return problem;
            }

            expectedInput = layer.OutputSize;
        }

        var outputs = layers[^1].OutputSize;
        var labels = definition.ClassLabels;
        if (definition.Task == MlpTask.Classification)
        {
            if (labels is null || labels.Count < 2)
            {
                return $"ClassLabels has {labels?.Count ?? 0} label(s); classification needs at least 2.";
            }

            if (labels.Count != outputs)
            {
                return $"ClassLabels has {labels.Count} labels but the last layer has OutputSize {outputs}.";
            }

            return DistinctNamesProblem(labels, nameof(MlpDefinition.ClassLabels));
        }

        if (labels is { Count: > 0 })
        {
            return "ClassLabels must be null or empty for regression.";
        }

        if (outputs != 1)
        {
            return $"The last layer has OutputSize {outputs}; regression needs exactly 1.";
        }

        return float.IsFinite(definition.TargetMean) && float.IsFinite(definition.TargetStd)
            ? null
            : string.Create(
                CultureInfo.InvariantCulture,
                $"TargetMean ({definition.TargetMean}) and TargetStd ({definition.TargetStd}) must be finite.");
    }

    internal static void ValidateMetadata(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        foreach (var (key, value) in metadata)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new ArgumentException("Metadata keys must not be empty.", nameof(metadata));
            }

            if (key is TaskMetadataKey or FeaturesMetadataKey or LabelsMetadataKey)
            {
                throw new ArgumentException($"Metadata key '{key}' is written by the exporter itself.", nameof(metadata));
            }

            if (value is null)
            {
                throw new ArgumentException($"Metadata value of '{key}' is null.", nameof(metadata));
            }
        }
    }

    private static string? DistinctNamesProblem(IReadOnlyList<string> names, string what)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
            {
                return $"{what}[{i}] is empty.";
            }

            if (!seen.Add(names[i]))
            {
                return $"{what} contains '{names[i]}' more than once.";
            }
        }

        return null;
    }

    private static string? FiniteVectorProblem(float[]? values, int expectedLength, string what, string lengthSource) =>
        values is null || values.Length != expectedLength
            ? $"{what} has {values?.Length ?? 0} values; expected {lengthSource} = {expectedLength}."
            : FiniteProblem(values, what);

    private static string? FiniteProblem(float[] values, string what)
    {
        var index = Array.FindIndex(values, v => !float.IsFinite(v));
        return index < 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"{what}[{index}] is {values[index]}; all values must be finite.");
    }

    /// <summary>A float32 <c>[batch, columns]</c> graph input or output.</summary>
    internal static ValueInfoProto FloatMatrixValue(string name, int columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }

    internal static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };

    internal static string JsonStringArray(IEnumerable<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var value in values)
            {
                writer.WriteStringValue(value);
            }

            writer.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
