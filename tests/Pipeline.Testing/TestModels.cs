using System.Buffers.Binary;
using Google.Protobuf;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Proto;
using Pipeline.Storage;

namespace Pipeline.Tests.Infrastructure;

/// <summary>Model versions published to Azurite the way the trainer (or a user bringing their own ONNX) would.</summary>
public static class TestModels
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public static Azure.Storage.Blobs.BlobContainerClient Container() => Azurite.Blobs().GetBlobContainerClient(StorageNames.ModelsContainer);

    /// <summary>A 2-feature (a, b), 2-class model: "high" when a + b + bias > 0; <paramref name="hidden"/> &gt; 0 adds a layer that makes the file ~hidden² × 4 bytes.</summary>
    public static byte[] TwoClass(float bias, int hidden = 0)
    {
        List<DenseLayer> layers = hidden == 0
            ? [new DenseLayer(2, 2, [-1, -1, 1, 1], [-bias, bias])]
            : [
                new DenseLayer(2, hidden, [.. Enumerable.Range(0, hidden * 2).Select(i => i < 2 ? 1f : 0f)], new float[hidden]),
                new DenseLayer(hidden, hidden, new float[hidden * hidden], new float[hidden]),
                new DenseLayer(hidden, 2, new float[hidden * 2], [-bias, bias]),
            ];
        return OnnxMlpExporter.Export(new MlpDefinition(MlpTask.Classification, ["a", "b"], [0, 0], [1, 1], layers, ["low", "high"]));
    }

    /// <summary>Publishes a version with a trainer-style manifest; <paramref name="moveCurrent"/> points current.json at it.</summary>
    public static async Task PublishAsync(string model, string version, byte[] onnx, bool moveCurrent = true)
    {
        var container = Container();
        await container.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await container.GetBlobClient($"{model}/{version}/{StorageNames.ModelFile}").UploadAsync(new BinaryData(onnx), overwrite: true, Cancellation);
        var manifest = new ModelManifest
        {
            Model = model, Version = version, Task = TaskKind.Classification, Features = ["a", "b"], Labels = ["low", "high"],
            InputName = OnnxContract.InputName, OutputName = OnnxContract.ProbabilitiesOutput,
            TestMetrics = new() { ["accuracy"] = 0.9 }, CreatedAt = DateTimeOffset.UtcNow,
        };
        await BlobJson.WriteAsync(container.GetBlobClient(StorageNames.ModelManifestPath(model, version)), manifest, PipelineJson.Default.ModelManifest, null, Cancellation);
        if (moveCurrent)
        {
            await MoveCurrentAsync(model, version);
        }
    }

    /// <summary>
    /// Raw columns a model trained by the pipeline encodes (manifest <c>encodings</c>): <c>size</c> numeric (missing: 5),
    /// <c>color</c> categorical red/blue + other (missing: red), <c>member</c> boolean (missing: false); the target
    /// <c>label</c> and the identifier <c>id</c> are left out.
    /// </summary>
    public static List<ColumnEncoding> RawColumns() =>
    [
        new() { Column = "size", Kind = ColumnKinds.Numeric, Features = ["size"], Missing = [5] },
        new() { Column = "color", Kind = ColumnKinds.Categorical, Categories = ["red", "blue"], Features = ["color=red", "color=blue", "color=*other*"], Missing = [1, 0, 0] },
        new() { Column = "member", Kind = ColumnKinds.Boolean, Features = ["member"], Missing = [0] },
    ];

    /// <summary>
    /// Publishes a model over <see cref="RawColumns"/> with a trainer-style manifest: classification "no"/"yes" with
    /// logit(yes) = 0.5·size + 2·red − blue + 0.3·other + 1.5·member − 3 + <paramref name="shift"/>, or regression
    /// (<paramref name="regression"/>) of the same sum.
    /// </summary>
    public static async Task PublishEncodedAsync(string model, string version, bool regression = false, float shift = 0, bool moveCurrent = true, TrainingBaseline? baseline = null)
    {
        var encodings = RawColumns();
        List<string> features = [.. encodings.SelectMany(e => e.Features)];
        float[] weights = [0.5f, 2, -1, 0.3f, 1.5f];
        var onnx = regression
            ? OnnxMlpExporter.Export(new MlpDefinition(MlpTask.Regression, features, new float[5], [1, 1, 1, 1, 1], [new DenseLayer(5, 1, weights, [shift - 3])], null))
            : OnnxMlpExporter.Export(new MlpDefinition(MlpTask.Classification, features, new float[5], [1, 1, 1, 1, 1],
                [new DenseLayer(5, 2, [0, 0, 0, 0, 0, .. weights], [0, shift - 3])], ["no", "yes"]));
        var container = Container();
        await container.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await container.GetBlobClient($"{model}/{version}/{StorageNames.ModelFile}").UploadAsync(new BinaryData(onnx), overwrite: true, Cancellation);
        var manifest = new ModelManifest
        {
            Model = model, Version = version, Task = regression ? TaskKind.Regression : TaskKind.Classification, Target = "label",
            Features = features, Labels = regression ? [] : ["no", "yes"], Encodings = encodings, IgnoredColumns = ["id"],
            InputName = OnnxContract.InputName, OutputName = regression ? OnnxContract.ValueOutput : OnnxContract.ProbabilitiesOutput,
            TestMetrics = new() { [regression ? "r2" : "accuracy"] = 0.9 }, CreatedAt = DateTimeOffset.UtcNow, Baseline = baseline,
        };
        await BlobJson.WriteAsync(container.GetBlobClient(StorageNames.ModelManifestPath(model, version)), manifest, PipelineJson.Default.ModelManifest, null, Cancellation);
        if (moveCurrent)
        {
            await MoveCurrentAsync(model, version);
        }
    }

    public static Task MoveCurrentAsync(string model, string version) =>
        BlobJson.WriteAsync(Container().GetBlobClient(StorageNames.CurrentPointerPath(model)), new CurrentPointer { Version = version }, PipelineJson.Default.CurrentPointer, null, Cancellation);

    /// <summary>Uploads a file into a version folder as it is (bring-your-own, or deliberately broken).</summary>
    public static async Task UploadAsync(string model, string path, byte[] content)
    {
        var container = Container();
        await container.CreateIfNotExistsAsync(cancellationToken: Cancellation);
        await container.GetBlobClient($"{model}/{path}").UploadAsync(new BinaryData(content), overwrite: true, Cancellation);
    }

    /// <summary>
    /// A "foreign" ONNX graph built with the project's protobuf classes (not its exporter): <c>y = X · w + b</c> over one
    /// input <c>X</c> <c>[N, w.Length]</c>, output <c>y</c> <c>[N, 1]</c>, no metadata.
    /// </summary>
    public static byte[] LinearRegression(float[] weights, float bias)
    {
        var graph = new GraphProto { Name = "linear" };
        graph.Input.Add(FloatValue("X", -1, weights.Length));
        graph.Initializer.Add(FloatTensor("w", weights, weights.Length, 1));
        graph.Initializer.Add(FloatTensor("b", [bias], 1));
        graph.Node.Add(Node("MatMul", ["X", "w"], "xw"));
        graph.Node.Add(Node("Add", ["xw", "b"], "y"));
        graph.Output.Add(FloatValue("y", -1, 1));
        return Model(graph);
    }

    /// <summary>
    /// sklearn-onnx style: one <c>[N, 1]</c> input per feature, concatenated, then a linear layer and softmax to
    /// <c>probabilities</c> <c>[N, 2]</c>, plus an int64 <c>label</c> output (ArgMax) listed first, as converters do.
    /// </summary>
    public static byte[] ColumnsClassifier(string[] features)
    {
        var graph = new GraphProto { Name = "columns" };
        foreach (var feature in features)
        {
            graph.Input.Add(FloatValue(feature, -1, 1));
        }

        var n = features.Length;
        var concat = Node("Concat", features, "x");
        concat.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(concat);
        // Column 0 scores "no" with -sum(x), column 1 "yes" with +sum(x).
        graph.Initializer.Add(FloatTensor("w", [.. Enumerable.Range(0, n * 2).Select(i => i % 2 == 0 ? -1f : 1f)], n, 2));
        graph.Node.Add(Node("MatMul", ["x", "w"], "logits"));
        var softmax = Node("Softmax", ["logits"], "probabilities");
        softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(softmax);
        var argMax = Node("ArgMax", ["logits"], "label");
        argMax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(argMax);
        graph.Output.Add(new ValueInfoProto
        {
            Name = "label",
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64, Shape = Shape(-1, 1) } },
        });
        graph.Output.Add(FloatValue("probabilities", -1, 2));
        return Model(graph);
    }

    /// <summary>A graph that loads fine but answers NaN for a row of zeros (0 / 0): fails the smoke prediction.</summary>
    public static byte[] NaNOnZeros()
    {
        var graph = new GraphProto { Name = "nan" };
        graph.Input.Add(FloatValue("features", -1, 2));
        graph.Node.Add(Node("Div", ["features", "features"], "probabilities"));
        graph.Output.Add(FloatValue("probabilities", -1, 2));
        return Model(graph);
    }

    private static byte[] Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "pipeline-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output + "." + op };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorShapeProto Shape(params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = dim });
        }

        return shape;
    }

    private static ValueInfoProto FloatValue(string name, params long[] dims) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = Shape(dims) } },
    };

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
}
