namespace Pipeline.Contracts;

/// <summary>What <see cref="OnnxModelCheck"/> read from a model file.</summary>
public sealed record OnnxModelFacts(string ProducerName, long InitializerBytes, int Nodes);

/// <summary>
/// Checks an ONNX file before ONNX Runtime sees it, by walking the protobuf wire format of the few messages that matter
/// (serving takes no ONNX library): ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, SparseTensorProto,
/// FunctionProto. Refused: initializers whose data lives in an external file (ORT would open a path named by the file),
/// control flow (<c>Loop</c>, <c>Scan</c>, <c>If</c>, <c>SequenceMap</c>, any subgraph attribute), operators whose
/// output size is read from a tensor unless that tensor is a constant (<c>ConstantOfShape</c>, <c>Expand</c>,
/// <c>Tile</c>, <c>Range</c>, <c>Resize</c>, <c>Upsample</c>, <c>Pad</c>, <c>OneHot</c>), and constant tensors that declare
/// more than <c>maxInitializerBytes</c> in total. The walk is linear in the file's size and only four messages deep.
/// </summary>
public static class OnnxModelCheck
{
    // Field numbers of onnx/onnx.proto (IR version 10).
    private const int ModelProducerName = 2, ModelGraph = 7, ModelFunctions = 25;
    private const int GraphNode = 1, GraphInitializer = 5, GraphSparseInitializer = 15;
    private const int NodeInput = 1, NodeOutput = 2, NodeOpType = 4, NodeAttribute = 5, NodeDomain = 7;
    private const int AttributeTensor = 5, AttributeGraph = 6, AttributeTensors = 10, AttributeGraphs = 11, AttributeSparseTensor = 22, AttributeSparseTensors = 23;
    private const int TensorDims = 1, TensorDataType = 2, TensorName = 8, TensorExternalData = 13, TensorDataLocation = 14;
    private const int SparseValues = 1, SparseIndices = 2;
    private const int FunctionNode = 7;
    private const int DataLocationExternal = 1;

    private static readonly HashSet<string> ControlFlow = new(StringComparer.Ordinal) { "Loop", "Scan", "If", "SequenceMap" };

    /// <summary>Operators whose output size is read from the inputs at these positions: served only when those inputs are constants.</summary>
    private static readonly Dictionary<string, int[]> ShapeInputs = new(StringComparer.Ordinal)
    {
        ["ConstantOfShape"] = [0],
        ["Expand"] = [1],
        ["Tile"] = [1],
        ["Range"] = [0, 1, 2],
        ["Resize"] = [1, 2, 3],
        ["Upsample"] = [1],
        ["Pad"] = [1],
        ["OneHot"] = [1],
    };

    /// <summary>Checks <paramref name="model"/>; throws <see cref="InvalidDataException"/> naming what is refused.</summary>
    public static OnnxModelFacts Check(ReadOnlySpan<byte> model, long maxInitializerBytes, int maxNodes = DefaultMaxNodes)
    {
        var producer = "";
        var state = new State(maxInitializerBytes, maxNodes);
        var sawGraph = false;

        // Pass 1: the names of constant tensors (initializers, Constant outputs), initializer sizes, external data.
        var reader = new WireReader(model);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field)
            {
                case ModelProducerName when wireType == WireReader.LengthDelimited:
                    producer = System.Text.Encoding.UTF8.GetString(reader.ReadBytes());
                    break;
                case ModelGraph when wireType == WireReader.LengthDelimited:
                    sawGraph = true;
                    CollectConstants(reader.ReadBytes(), state);
                    break;
                case ModelFunctions when wireType == WireReader.LengthDelimited:
                    var function = new WireReader(reader.ReadBytes());
                    while (function.Next(out var f, out var w))
                    {
                        if (f == FunctionNode && w == WireReader.LengthDelimited)
                        {
                            ReadNode(function.ReadBytes(), state, collect: true);
                        }
                        else
                        {
                            function.Skip(w);
                        }
                    }

                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        if (!sawGraph)
        {
            throw new InvalidDataException("the file holds no ONNX graph.");
        }

        // Pass 2: every node (graph and local functions) against the rules, knowing which tensors are constant.
        reader = new WireReader(model);
        while (reader.Next(out var field, out var wireType))
        {
            if (field is ModelGraph or ModelFunctions && wireType == WireReader.LengthDelimited)
            {
                var message = new WireReader(reader.ReadBytes());
                var nodeField = field == ModelGraph ? GraphNode : FunctionNode;
                while (message.Next(out var f, out var w))
                {
                    if (f == nodeField && w == WireReader.LengthDelimited)
                    {
                        ReadNode(message.ReadBytes(), state, collect: false);
                    }
                    else
                    {
                        message.Skip(w);
                    }
                }
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return new OnnxModelFacts(producer, state.InitializerBytes, state.Nodes);
    }

    /// <summary>Nodes a graph may have (its local functions' included): session creation and optimisation grow with them.</summary>
    public const int DefaultMaxNodes = 50_000;

    private sealed class State(long maxInitializerBytes, int maxNodes)
    {
        public long MaxInitializerBytes { get; } = maxInitializerBytes;

        public int MaxNodes { get; } = maxNodes;

        public HashSet<string> Constants { get; } = new(StringComparer.Ordinal) { "" }; // "" = an optional input left out

        public long InitializerBytes { get; set; }

        public int Nodes { get; set; }
    }

    private static void CollectConstants(ReadOnlySpan<byte> graph, State state)
    {
        var reader = new WireReader(graph);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field)
            {
                case GraphInitializer when wireType == WireReader.LengthDelimited:
                    state.Constants.Add(ReadTensor(reader.ReadBytes(), state));
                    break;
                case GraphSparseInitializer when wireType == WireReader.LengthDelimited:
                    state.Constants.Add(ReadSparseTensor(reader.ReadBytes(), state));
                    break;
                case GraphNode when wireType == WireReader.LengthDelimited:
                    ReadNode(reader.ReadBytes(), state, collect: true);
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
    }

    /// <summary>Pass 1 (<paramref name="collect"/>): constant tensors in attributes, outputs of Constant. Pass 2: the operator rules.</summary>
    private static void ReadNode(ReadOnlySpan<byte> node, State state, bool collect)
    {
        string opType = "", domain = "";
        List<string> inputs = [];
        List<string> outputs = [];
        var hasSubgraph = false;
        var reader = new WireReader(node);
        while (reader.Next(out var field, out var wireType))
        {
            if (wireType != WireReader.LengthDelimited)
            {
                reader.Skip(wireType);
                continue;
            }

            var bytes = reader.ReadBytes();
            switch (field)
            {
                case NodeInput:
                    inputs.Add(System.Text.Encoding.UTF8.GetString(bytes));
                    break;
                case NodeOutput:
                    outputs.Add(System.Text.Encoding.UTF8.GetString(bytes));
                    break;
                case NodeOpType:
                    opType = System.Text.Encoding.UTF8.GetString(bytes);
                    break;
                case NodeDomain:
                    domain = System.Text.Encoding.UTF8.GetString(bytes);
                    break;
                case NodeAttribute:
                    hasSubgraph |= ReadAttribute(bytes, state, collect);
                    break;
            }
        }

        var standard = domain is "" or "ai.onnx";
        if (collect)
        {
            if (++state.Nodes > state.MaxNodes)
            {
                throw new InvalidDataException($"the graph has more than {state.MaxNodes} nodes (Models:MaxNodes).");
            }

            if (standard && opType == "Constant")
            {
                state.Constants.UnionWith(outputs);
            }

            return;
        }

        if (hasSubgraph || (standard && ControlFlow.Contains(opType)))
        {
            throw new InvalidDataException($"the graph uses control flow ({Describe(opType, domain)}), which is not served: its running time cannot be bounded.");
        }

        if (standard && ShapeInputs.TryGetValue(opType, out var positions))
        {
            foreach (var position in positions)
            {
                if (position < inputs.Count && !state.Constants.Contains(inputs[position]))
                {
                    throw new InvalidDataException($"operator {opType} takes its output size from input '{Truncate(inputs[position])}', which is computed at run time; only a constant is served (the output's size must not depend on a request).");
                }
            }
        }
    }

    /// <summary>Counts constant tensors held by the attribute (pass 1); true when it holds a subgraph.</summary>
    private static bool ReadAttribute(ReadOnlySpan<byte> attribute, State state, bool collect)
    {
        var hasSubgraph = false;
        var reader = new WireReader(attribute);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field)
            {
                case AttributeGraph or AttributeGraphs:
                    hasSubgraph = true;
                    reader.Skip(wireType);
                    break;
                case AttributeTensor or AttributeTensors when collect && wireType == WireReader.LengthDelimited:
                    ReadTensor(reader.ReadBytes(), state);
                    break;
                case AttributeSparseTensor or AttributeSparseTensors when collect && wireType == WireReader.LengthDelimited:
                    ReadSparseTensor(reader.ReadBytes(), state);
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return hasSubgraph;
    }

    private static string ReadSparseTensor(ReadOnlySpan<byte> sparse, State state)
    {
        var name = "";
        var reader = new WireReader(sparse);
        while (reader.Next(out var field, out var wireType))
        {
            if (field is SparseValues or SparseIndices && wireType == WireReader.LengthDelimited)
            {
                var tensorName = ReadTensor(reader.ReadBytes(), state);
                if (field == SparseValues)
                {
                    name = tensorName;
                }
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return name;
    }

    /// <summary>Adds the tensor's declared size (elements × element size, at least its encoded size) to the total; returns its name.</summary>
    private static string ReadTensor(ReadOnlySpan<byte> tensor, State state)
    {
        var name = "";
        long elements = 1;
        var dataType = 0;
        var external = false;
        var reader = new WireReader(tensor);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field)
            {
                case TensorDims when wireType == WireReader.Varint:
                    elements = MultiplyDims(elements, reader.ReadVarint());
                    break;
                case TensorDims when wireType == WireReader.LengthDelimited:
                    var packed = new WireReader(reader.ReadBytes());
                    while (!packed.End)
                    {
                        elements = MultiplyDims(elements, packed.ReadVarint());
                    }

                    break;
                case TensorDataType when wireType == WireReader.Varint:
                    dataType = (int)reader.ReadVarint();
                    break;
                case TensorName when wireType == WireReader.LengthDelimited:
                    name = System.Text.Encoding.UTF8.GetString(reader.ReadBytes());
                    break;
                case TensorExternalData:
                    external = true;
                    reader.Skip(wireType);
                    break;
                case TensorDataLocation when wireType == WireReader.Varint:
                    external |= reader.ReadVarint() == DataLocationExternal;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        if (external)
        {
            throw new InvalidDataException($"tensor '{Truncate(name)}' keeps its data in an external file; only self-contained ONNX files are served.");
        }

        var declared = elements > long.MaxValue / 16 ? long.MaxValue : elements * ElementBytes(dataType);
        var size = Math.Max(declared, tensor.Length);
        if (size > state.MaxInitializerBytes - state.InitializerBytes)
        {
            throw new InvalidDataException($"the graph's constant tensors declare more than {state.MaxInitializerBytes} bytes (Models:MaxInitializerBytes); tensor '{Truncate(name)}' passes the limit.");
        }

        state.InitializerBytes += size;
        return name;
    }

    private static long MultiplyDims(long elements, ulong dim)
    {
        if (dim > int.MaxValue || (dim > 0 && elements > long.MaxValue / 16 / (long)dim))
        {
            return long.MaxValue; // caught by the size limit
        }

        return elements * (long)dim;
    }

    private static int ElementBytes(int dataType) => dataType switch
    {
        11 or 7 or 13 or 14 => 8, // double, int64, uint64, complex64
        15 => 16, // complex128
        1 or 6 or 12 => 4, // float, int32, uint32
        4 or 5 or 10 or 16 => 2, // uint16, int16, float16, bfloat16
        _ => 1, // 8-bit, 4-bit, bool; strings count by their encoded size
    };

    private static string Describe(string opType, string domain) => domain is "" or "ai.onnx" ? Truncate(opType) : $"{Truncate(domain)}.{Truncate(opType)}";

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    /// <summary>A forward-only reader of protobuf wire format that refuses anything malformed instead of guessing.</summary>
    private ref struct WireReader(ReadOnlySpan<byte> data)
    {
        public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool End => _position >= _data.Length;

        public bool Next(out int field, out int wireType)
        {
            if (End)
            {
                field = wireType = 0;
                return false;
            }

            var tag = ReadVarint();
            field = (int)Math.Min(tag >> 3, int.MaxValue);
            wireType = (int)(tag & 7);
            if (field == 0)
            {
                throw Malformed();
            }

            return true;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _data.Length)
                {
                    throw Malformed();
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw Malformed();
        }

        public ReadOnlySpan<byte> ReadBytes()
        {
            var length = ReadVarint();
            if (length > (ulong)(_data.Length - _position))
            {
                throw Malformed();
            }

            var bytes = _data.Slice(_position, (int)length);
            _position += (int)length;
            return bytes;
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case Varint:
                    ReadVarint();
                    break;
                case Fixed64:
                    Advance(8);
                    break;
                case LengthDelimited:
                    ReadBytes();
                    break;
                case Fixed32:
                    Advance(4);
                    break;
                default:
                    throw Malformed(); // groups (3, 4) are not used by ONNX
            }
        }

        private void Advance(int count)
        {
            if (count > _data.Length - _position)
            {
                throw Malformed();
            }

            _position += count;
        }

        private static InvalidDataException Malformed() => new("the file is not a well-formed ONNX protobuf.");
    }
}
