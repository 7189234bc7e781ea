using System.Buffers.Binary;
using Google.Protobuf;
using Pipeline.Training.Onnx.Proto;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>ONNX files built to hurt a server (external data, control flow, sizes read at run time, huge or slow graphs), with the project's protobuf classes.</summary>
internal static class HostileModels
{
    /// <summary>A regression graph <c>value = ReduceSum(X, axis 1)</c> over <c>X [N, 2]</c>, with <paramref name="extra"/> nodes and initializers added.</summary>
    public static byte[] Build(Action<GraphProto>? extra = null, string producer = "hostile-tests")
    {
        var graph = new GraphProto { Name = "hostile" };
        graph.Input.Add(FloatValue("X", -1, 2));
        graph.Initializer.Add(Int64Tensor("axes", [1]));
        graph.Node.Add(Node("ReduceSum", ["X", "axes"], "value"));
        graph.Output.Add(FloatValue("value", -1, 1));
        extra?.Invoke(graph);
        var model = new ModelProto { IrVersion = 8, ProducerName = producer, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    /// <summary>An initializer whose data lives in an external file (TensorProto.data_location = EXTERNAL, external_data = location).</summary>
    public static byte[] ExternalData() => Build(graph =>
    {
        var tensor = FloatTensor("w", [1f, 2f], 2);
        tensor.RawData = ByteString.Empty;
        var bytes = tensor.ToByteArray().ToList();
        var entry = new StringStringEntryProto { Key = "location", Value = "../../../../etc/passwd" }.ToByteArray();
        bytes.Add((13 << 3) | 2); // external_data
        bytes.Add((byte)entry.Length);
        bytes.AddRange(entry);
        bytes.Add(14 << 3); // data_location
        bytes.Add(1); // EXTERNAL
        graph.Initializer.Add(TensorProto.Parser.ParseFrom([.. bytes]));
    });

    /// <summary>A node of <paramref name="opType"/> (no subgraph attribute) feeding nothing.</summary>
    public static byte[] WithNode(string opType, string[] inputs, string domain = "") => Build(graph =>
    {
        var node = Node(opType, inputs, "unused");
        node.Domain = domain;
        graph.Node.Add(node);
    });

    /// <summary>A custom-domain node carrying a subgraph attribute (how control flow hides under another name).</summary>
    public static byte[] WithSubgraphAttribute() => Build(graph =>
    {
        var node = Node("Whatever", ["X"], "unused");
        node.Domain = "com.example";
        node.Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = new GraphProto { Name = "body" } });
        graph.Node.Add(node);
    });

    /// <summary>A <c>ConstantOfShape</c> whose shape is computed from the request (<paramref name="constantShape"/> false) or is an initializer.</summary>
    public static byte[] ConstantOfShape(bool constantShape) => Build(graph =>
    {
        if (constantShape)
        {
            graph.Initializer.Add(Int64Tensor("shape", [2, 2]));
        }
        else
        {
            graph.Node.Add(Node("Cast", ["X"], "castX", ("to", 7)));
            graph.Node.Add(Node("Shape", ["castX"], "shape"));
        }

        graph.Node.Add(Node("ConstantOfShape", ["shape"], "zeros"));
    });

    /// <summary>An initializer of <paramref name="declaredElements"/> floats, carrying <paramref name="actualElements"/>.</summary>
    public static byte[] LargeInitializer(long declaredElements, int actualElements) => Build(graph =>
    {
        var tensor = FloatTensor("big", new float[actualElements], declaredElements);
        graph.Initializer.Add(tensor);
    });

    /// <summary>
    /// Loads fast, then runs long on one row of zeros: the row is expanded to a 1024 × 1024 matrix multiplied by itself
    /// <paramref name="multiplications"/> times (2 GFLOP each; ONNX Runtime can stop between two of them). Answers 0.
    /// </summary>
    public static byte[] Slow(int multiplications)
    {
        var graph = new GraphProto { Name = "slow" };
        graph.Input.Add(FloatValue("X", -1, 2));
        graph.Initializer.Add(Int64Tensor("axes", [1]));
        graph.Initializer.Add(Int64Tensor("size", [1024, 1024]));
        graph.Node.Add(Node("ReduceSum", ["X", "axes"], "s"));
        graph.Node.Add(Node("Expand", ["s", "size"], "m0"));
        for (var i = 1; i <= multiplications; i++)
        {
            graph.Node.Add(Node("MatMul", [$"m{i - 1}", "m0"], $"m{i}"));
        }

        graph.Node.Add(Node("ReduceMean", [$"m{multiplications}"], "value"));
        graph.Output.Add(FloatValue("value", -1, 1));
        var model = new ModelProto { IrVersion = 8, ProducerName = "hostile-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    private static NodeProto Node(string op, string[] inputs, string output, (string Name, long Value)? attribute = null)
    {
        var node = new NodeProto { OpType = op, Name = output + "." + op };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        if (attribute is { } a)
        {
            node.Attribute.Add(new AttributeProto { Name = a.Name, Type = AttributeProto.Types.AttributeType.Int, I = a.Value });
        }

        return node;
    }

    private static ValueInfoProto FloatValue(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = dim });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }

    private static TensorProto FloatTensor(string name, float[] values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private static TensorProto Int64Tensor(string name, long[] values)
    {
        var raw = new byte[values.Length * sizeof(long)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), values[i]);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.Add(values.Length);
        return tensor;
    }
}
