using System.Buffers.Binary;
using Google.Protobuf;
using Pipeline.Training.Onnx.Proto;

namespace Pipeline.Training.Onnx;

/// <summary>Small constructors and readers for ONNX protobuf messages, shared by the exporter and the quantizer.</summary>
internal static class OnnxBuilder
{
    public static NodeProto Node(string opType, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = "" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static NodeProto Node(string opType, string name, string[] inputs, string output, params AttributeProto[] attributes) =>
        Node(opType, name, inputs, [output], attributes);

    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto StringAttribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto IntsAttribute(string name, IEnumerable<long> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto StringsAttribute(string name, IEnumerable<string> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    public static AttributeProto TensorAttribute(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    /// <summary>A float64 tensor with its elements little-endian in <c>raw_data</c>.</summary>
    public static TensorProto DoubleTensor(string name, ReadOnlySpan<double> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(double)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(raw.AsSpan(i * sizeof(double)), values[i]);
        }

        return Tensor(name, TensorProto.Types.DataType.Double, raw, dims);
    }

    /// <summary>A float32 initializer with its elements little-endian in <c>raw_data</c>.</summary>
    public static TensorProto FloatTensor(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        }

        return Tensor(name, TensorProto.Types.DataType.Float, raw, dims);
    }

    public static TensorProto Int8Tensor(string name, ReadOnlySpan<sbyte> values, params long[] dims) =>
        Tensor(name, TensorProto.Types.DataType.Int8, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray(), dims);

    public static TensorProto UInt8Tensor(string name, ReadOnlySpan<byte> values, params long[] dims) =>
        Tensor(name, TensorProto.Types.DataType.Uint8, values.ToArray(), dims);

    public static TensorProto Int32Tensor(string name, ReadOnlySpan<int> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(int)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(i * sizeof(int)), values[i]);
        }

        return Tensor(name, TensorProto.Types.DataType.Int32, raw, dims);
    }

    /// <summary>
    /// The elements of a float32 initializer, whether stored in <c>raw_data</c> or <c>float_data</c>; null when the tensor is
    /// not float32 or its data is not inside the model (external data).
    /// </summary>
    public static float[]? FloatValues(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            return null;
        }

        var count = tensor.Dims.Aggregate(1L, (product, dim) => product * dim);
        if (tensor.HasRawData && tensor.RawData.Length == count * sizeof(float))
        {
            var raw = tensor.RawData.Span;
            var values = new float[count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * sizeof(float))..]);
            }

            return values;
        }

        return !tensor.HasRawData && tensor.FloatData.Count == count ? [.. tensor.FloatData] : null;
    }

    private static TensorProto Tensor(string name, TensorProto.Types.DataType type, byte[] raw, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
