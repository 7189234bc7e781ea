using Pipeline.Training.Onnx.Proto;

namespace Pipeline.Training.Onnx;

/// <summary>Reads ONNX model files (ours or any other producer's, e.g. ONNX Runtime's optimized graphs) for inspection.</summary>
public static class OnnxGraph
{
    /// <summary>Parses the ONNX model file at <paramref name="path"/>.</summary>
    public static ModelProto Load(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    /// <summary>Parses a serialized ONNX model.</summary>
    public static ModelProto Load(byte[] model) => ModelProto.Parser.ParseFrom(model);

    /// <summary>The operator type of every node of the main graph, in graph order.</summary>
    public static IEnumerable<string> OperatorTypes(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Graph?.Node.Select(node => node.OpType) ?? [];
    }

    /// <summary>The model's <c>metadata_props</c> as a dictionary (the last value wins for a repeated key).</summary>
    public static IReadOnlyDictionary<string, string> Metadata(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps)
        {
            metadata[entry.Key] = entry.Value;
        }

        return metadata;
    }
}
