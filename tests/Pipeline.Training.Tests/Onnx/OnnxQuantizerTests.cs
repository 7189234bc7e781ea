using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Proto;
using Pipeline.Training.Onnx.Quantization;
using Pipeline.Training.Quantization;

namespace Pipeline.Tests.Core.Onnx;

public sealed class OnnxQuantizerTests : IDisposable
{
    private const int Rows = 500;

    private readonly TempDirectory _temp = new();

    public static TheoryData<MlpTask, int[], WeightGranularity> Networks => new()
    {
        { MlpTask.Classification, [6, 32, 16, 3], WeightGranularity.PerChannel },
        { MlpTask.Classification, [6, 32, 16, 3], WeightGranularity.PerTensor },
        { MlpTask.Regression, [5, 24, 1], WeightGranularity.PerChannel },
        { MlpTask.Regression, [5, 24, 1], WeightGranularity.PerTensor },
    };

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(Networks))]
    public void QuantizeStatic_ExportedMlp_RunsAsQGemmWithNoFloatGemmLeft(MlpTask task, int[] sizes, WeightGranularity granularity)
    {
        var (definition, model, rows) = Fixture(task, sizes);
        var quantized = QuantizeStatic(model, rows, sizes[0], granularity);

        var optimized = Optimize(quantized);

        var operators = OnnxGraph.OperatorTypes(optimized).ToList();
        Assert.Equal(definition.Layers.Count, operators.Count(op => op == "QGemm"));
        Assert.DoesNotContain(operators, op => op is "Gemm" or "FusedGemm" or "MatMul");
        Assert.All(optimized.Graph.Node.Where(n => n.OpType == "QGemm"), n => Assert.Equal("com.microsoft", n.Domain));
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void QuantizeDynamic_ExportedMlp_RunsAsIntegerMatMulWithNoFloatGemmLeft(MlpTask task, int[] sizes, WeightGranularity granularity)
    {
        var (definition, model, _) = Fixture(task, sizes);
        var quantized = OnnxQuantizer.QuantizeDynamic(model, granularity);

        var optimized = Optimize(quantized);

        var operators = OnnxGraph.OperatorTypes(optimized).ToList();
        Assert.Equal(definition.Layers.Count, operators.Count(op => op is "DynamicQuantizeMatMul" or "MatMulIntegerToFloat" or "MatMulInteger"));
        Assert.DoesNotContain(operators, op => op is "Gemm" or "FusedGemm" or "MatMul");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Quantize_ExportedMlp_PassesOnnxCheckerAndStaysCloseToFp32(MlpTask task, int[] sizes, WeightGranularity granularity)
    {
        var (definition, model, rows) = Fixture(task, sizes);
        var fp32 = Run(model, rows, sizes[0]);
        var scale = task == MlpTask.Regression ? definition.TargetStd : 1f;
        foreach (var quantized in new[] { QuantizeStatic(model, rows, sizes[0], granularity), OnnxQuantizer.QuantizeDynamic(model, granularity) })
        {
            var path = _temp.File($"{Guid.NewGuid():N}.onnx");
            File.WriteAllBytes(path, quantized.ToByteArray());
            OnnxChecker.Check(path);

            var int8 = Run(quantized, rows, sizes[0]);
            var maxDifference = int8.Zip(fp32, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDifference < 0.1 * scale, $"{OnnxGraph.Metadata(quantized)[OnnxQuantizer.MetadataKey]}: largest difference from fp32 {maxDifference}.");
        }
    }

    [Fact]
    public void QuantizeStatic_Int8Tensors_AreSymmetricWithInt32BiasAtInputTimesWeightScale()
    {
        var (_, model, rows) = Fixture(MlpTask.Classification, [6, 32, 16, 3]);
        var quantized = QuantizeStatic(model, rows, 6, WeightGranularity.PerChannel);
        var initializers = quantized.Graph.Initializer.ToDictionary(t => t.Name);

        var weight = initializers["layer1.weight.int8"];
        Assert.Equal((int)TensorProto.Types.DataType.Int8, weight.DataType);
        Assert.Equal([16L, 32L], weight.Dims);
        Assert.DoesNotContain(weight.RawData.Span.ToArray(), b => unchecked((sbyte)b) == sbyte.MinValue);
        Assert.Equal([16L], initializers["layer1.weight.scale"].Dims);
        Assert.Equal((int)TensorProto.Types.DataType.Int32, initializers["layer1.bias.int32"].DataType);

        var inputScale = Floats(initializers["layer0.activation.scale"])[0];
        var weightScales = Floats(initializers["layer1.weight.scale"]);
        var biasScales = Floats(initializers["layer1.bias.scale"]);
        Assert.All(Enumerable.Range(0, 16), n => Assert.Equal(inputScale * weightScales[n], biasScales[n], 1e-12f));

        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name is "layer1.weight" or "layer1.bias");
        Assert.Equal(3, quantized.Graph.Node.Count(n => n.OpType == "Gemm"));
        Assert.All(quantized.Graph.Node.Where(n => n.OpType == "Gemm"), n =>
            Assert.Equal(["alpha", "beta", "transA", "transB"], n.Attribute.Select(a => a.Name)));
    }

    [Fact]
    public void Quantize_InputModel_IsNotModified()
    {
        var (_, model, rows) = Fixture(MlpTask.Classification, [6, 32, 16, 3]);
        var before = model.ToByteArray();

        QuantizeStatic(model, rows, 6, WeightGranularity.PerChannel);
        OnnxQuantizer.QuantizeDynamic(model, WeightGranularity.PerTensor);

        Assert.Equal(before, model.ToByteArray());
    }

    [Fact]
    public void FindQuantizableGemms_GraphWithoutGemm_IsNotSupportedWithReason()
    {
        var model = MatMulOnlyModel();

        var error = Assert.Throws<NotSupportedException>(() => OnnxQuantizer.FindQuantizableGemms(model));
        Assert.Contains("no Gemm", error.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => OnnxQuantizer.QuantizeDynamic(model, WeightGranularity.PerChannel));
    }

    [Fact]
    public void FindQuantizableGemms_WeightFedByGraphInput_IsNotSupportedAndNamesTheNode()
    {
        var model = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Classification, seed: 1, 4, 3));
        model.Graph.Input.Add(new ValueInfoProto { Name = "layer0.weight", Type = model.Graph.Input[0].Type });

        var error = Assert.Throws<NotSupportedException>(() => OnnxQuantizer.FindQuantizableGemms(model));
        Assert.Contains("layer0.gemm", error.Message, StringComparison.Ordinal);
        Assert.Contains("layer0.weight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FindQuantizableGemms_OldOpset_IsNotSupported()
    {
        var model = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Classification, seed: 1, 4, 3));
        model.OpsetImport[0].Version = 11;

        var error = Assert.Throws<NotSupportedException>(() => OnnxQuantizer.FindQuantizableGemms(model));
        Assert.Contains("opset 11", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuantizeStatic_MissingRange_ThrowsNamingTheTensor()
    {
        var model = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Classification, seed: 1, 4, 8, 3));
        var ranges = new Dictionary<string, ActivationRange> { ["standardized"] = new(-3, 3) };

        var error = Assert.Throws<ArgumentException>(() => OnnxQuantizer.QuantizeStatic(model, ranges, WeightGranularity.PerChannel));
        Assert.Contains("layer0.activation", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0f, 6f, 6f / 255, 0)]
    [InlineData(-1f, 3f, 4f / 255, 64)]
    [InlineData(2f, 5f, 5f / 255, 0)]
    [InlineData(-4f, -2f, 4f / 255, 255)]
    [InlineData(0f, 0f, 1f, 0)]
    public void ActivationRange_ToUInt8_IncludesZeroExactly(float min, float max, float scale, int zeroPoint)
    {
        var (actualScale, actualZeroPoint) = new ActivationRange(min, max).ToUInt8();

        Assert.Equal(scale, actualScale, 1e-7f);
        Assert.Equal(zeroPoint, actualZeroPoint);
    }

    [Fact]
    public void ActivationRange_ToUInt8_NonFiniteRange_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new ActivationRange(float.NaN, 1).ToUInt8());

    private static (MlpDefinition Definition, ModelProto Model, float[] Rows) Fixture(MlpTask task, int[] sizes)
    {
        var definition = ReferenceMlp.Create(task, seed: 5, sizes);
        return (definition, OnnxMlpExporter.Build(definition), ReferenceMlp.RandomRows(definition, Rows, seed: 9));
    }

    private static ModelProto QuantizeStatic(ModelProto model, float[] rows, int width, WeightGranularity granularity)
    {
        var ranges = ActivationCalibrator.Calibrate(model, OnnxContract.InputName, rows, Rows, width, CalibrationMethod.MinMax, 100, CancellationToken.None);
        return OnnxQuantizer.QuantizeStatic(model, ranges, granularity);
    }

    private ModelProto Optimize(ModelProto model)
    {
        var path = _temp.File($"{Guid.NewGuid():N}.optimized.onnx");
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = path };
        using (new InferenceSession(model.ToByteArray(), options))
        {
        }

        return OnnxGraph.Load(path);
    }

    private static float[] Run(ModelProto model, float[] rows, int width)
    {
        using var session = new InferenceSession(model.ToByteArray());
        using var input = OrtValue.CreateTensorValueFromMemory(rows, [Rows, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [OnnxContract.InputName], [input], [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] Floats(TensorProto tensor) =>
        [.. Enumerable.Range(0, tensor.RawData.Length / 4).Select(i => BitConverter.ToSingle(tensor.RawData.Span[(i * 4)..]))];

    /// <summary>A graph a quantizer for Gemm layers does not understand: <c>Y = MatMul(X, W)</c>.</summary>
    private static ModelProto MatMulOnlyModel()
    {
        var exported = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Classification, seed: 1, 4, 3));
        var graph = new GraphProto { Name = "matmul" };
        graph.Input.Add(exported.Graph.Input[0]);
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = exported.Graph.Input[0].Type });
        var weight = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float };
        weight.Dims.AddRange([4, 4]);
        weight.FloatData.AddRange(Enumerable.Range(0, 16).Select(i => i / 16f));
        graph.Initializer.Add(weight);
        var node = new NodeProto { OpType = "MatMul", Name = "matmul" };
        node.Input.AddRange(["features", "w"]);
        node.Output.Add("y");
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }
}
