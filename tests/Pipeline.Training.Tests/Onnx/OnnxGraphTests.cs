using Microsoft.ML.OnnxRuntime;
using Pipeline.Training.Onnx;

namespace Pipeline.Tests.Core.Onnx;

public sealed class OnnxGraphTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_GraphOptimizedByOnnxRuntime_ReadsNodesAndOpsets()
    {
        var definition = ReferenceMlp.Create(MlpTask.Classification, seed: 2, 5, 16, 8, 3);
        var optimizedPath = _temp.File("optimized.onnx");
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            OptimizedModelFilePath = optimizedPath,
        };
        using (new InferenceSession(OnnxMlpExporter.Export(definition), options))
        {
        }

        var optimized = OnnxGraph.Load(optimizedPath);

        // ORT 1.31 fuses Gemm+Relu into com.microsoft FusedGemm; the last Gemm (before Softmax) stays a plain Gemm.
        Assert.Equal(
            [":Sub", ":Mul", "com.microsoft:FusedGemm", "com.microsoft:FusedGemm", ":Gemm", ":Softmax"],
            optimized.Graph.Node.Select(node => $"{node.Domain}:{node.OpType}"));
        Assert.Contains("Gemm", OnnxGraph.OperatorTypes(optimized));
        Assert.Contains(optimized.OpsetImport, opset => opset.Domain == "" && opset.Version == OnnxMlpExporter.OpsetVersion);
        Assert.Contains(optimized.OpsetImport, opset => opset.Domain == "com.microsoft");
        Assert.Equal(
            ["layer0.bias", "layer0.weight", "layer1.bias", "layer1.weight", "layer2.bias", "layer2.weight"],
            optimized.Graph.Initializer.Select(t => t.Name).Where(n => n.StartsWith("layer", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }
}
