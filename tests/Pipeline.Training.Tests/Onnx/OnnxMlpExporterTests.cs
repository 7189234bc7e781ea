using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Contracts;
using Pipeline.Training.Onnx;
using Pipeline.Training.Onnx.Proto;

namespace Pipeline.Tests.Core.Onnx;

public sealed class OnnxMlpExporterTests : IDisposable
{
    private const int Rows = 1_000;
    private const double Tolerance = 1e-5;

    private readonly TempDirectory _temp = new();

    public static TheoryData<MlpTask, int[]> Networks => new()
    {
        { MlpTask.Classification, [5, 16, 8, 3] },
        { MlpTask.Regression, [4, 8, 1] },
        { MlpTask.Classification, [3, 2] },
    };

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(Networks))]
    public void Export_RandomMlp_MatchesReferenceForwardPassInOnnxRuntime(MlpTask task, int[] sizes)
    {
        var definition = ReferenceMlp.Create(task, seed: 7, sizes);
        var features = sizes[0];
        var outputs = sizes[^1];
        var rows = ReferenceMlp.RandomRows(definition, Rows, seed: 11);
        var outputName = task == MlpTask.Classification ? OnnxContract.ProbabilitiesOutput : OnnxContract.ValueOutput;

        using var session = new InferenceSession(OnnxMlpExporter.Export(definition));
        using var input = OrtValue.CreateTensorValueFromMemory(rows, [Rows, features]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [OnnxContract.InputName], [input], [outputName]);

        Assert.Equal([Rows, outputs], results[0].GetTensorTypeAndShape().Shape);
        var actual = results[0].GetTensorDataAsSpan<float>();
        var maxError = 0.0;
        for (var r = 0; r < Rows; r++)
        {
            var expected = ReferenceMlp.Forward(definition, rows.AsSpan(r * features, features));
            for (var k = 0; k < outputs; k++)
            {
                maxError = Math.Max(maxError, Math.Abs(actual[(r * outputs) + k] - expected[k]));
            }
        }

        Assert.True(maxError <= Tolerance, $"Largest difference from the reference forward pass: {maxError:E2}.");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Export_RandomMlp_PassesOnnxChecker(MlpTask task, int[] sizes)
    {
        var path = _temp.File("model.onnx");
        File.WriteAllBytes(path, OnnxMlpExporter.Export(ReferenceMlp.Create(task, seed: 3, sizes)));

        OnnxChecker.Check(path);
    }

    [Fact]
    public void Build_Classifier_WritesDocumentedGraph()
    {
        var definition = ReferenceMlp.Create(MlpTask.Classification, seed: 1, 5, 16, 8, 3);

        var model = OnnxMlpExporter.Build(definition);

        Assert.Equal(OnnxMlpExporter.IrVersion, model.IrVersion);
        Assert.Equal("serverless-ml-pipeline", model.ProducerName);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(("", 17L), (opset.Domain, opset.Version));
        Assert.Equal(
            ["Sub", "Mul", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"],
            OnnxGraph.OperatorTypes(model));
        Assert.All(
            model.Graph.Node.Where(n => n.OpType == "Gemm"),
            gemm => Assert.Equal(
                ["alpha=1", "beta=1", "transA=0", "transB=1"],
                gemm.Attribute.Select(a => $"{a.Name}={(a.Type == AttributeProto.Types.AttributeType.Float ? a.F : a.I)}")));
        var softmax = model.Graph.Node.Single(n => n.OpType == "Softmax");
        Assert.Equal((1L, OnnxContract.ProbabilitiesOutput), (Assert.Single(softmax.Attribute).I, softmax.Output[0]));
        Assert.Equal(
            ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"],
            model.Graph.Initializer.Select(t => t.Name).Where(n => n.StartsWith("layer", StringComparison.Ordinal)));
        Assert.Equal([8L, 16L], model.Graph.Initializer.Single(t => t.Name == "layer1.weight").Dims);

        var input = Assert.Single(model.Graph.Input);
        Assert.Equal(OnnxContract.InputName, input.Name);
        Assert.Equal(
            ["batch", "5"],
            input.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString(CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Build_WithMetadata_StoresFeaturesLabelsAndCallerMetadata()
    {
        var definition = ReferenceMlp.Create(MlpTask.Classification, seed: 1, 2, 3) with
        {
            FeatureNames = ["petal \"length\"", "größe"],
            ClassLabels = ["setosa", "versicolor", "virginica"],
        };

        var metadata = OnnxGraph.Metadata(OnnxMlpExporter.Build(
            definition,
            new Dictionary<string, string> { ["dataset_version"] = "v3", ["model"] = "iris" }));

        Assert.Equal("classification", metadata["task"]);
        Assert.Equal(definition.FeatureNames, JsonSerializer.Deserialize<string[]>(metadata["features"]));
        Assert.Equal(definition.ClassLabels, JsonSerializer.Deserialize<string[]>(metadata["labels"]));
        Assert.Equal(("v3", "iris"), (metadata["dataset_version"], metadata["model"]));
    }

    [Fact]
    public void Build_Regressor_OmitsLabelsAndEndsWithTargetDestandardization()
    {
        var model = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Regression, seed: 1, 4, 8, 1));

        Assert.Equal(["Sub", "Mul", "Gemm", "Relu", "Gemm", "Mul", "Add"], OnnxGraph.OperatorTypes(model));
        Assert.Equal(OnnxContract.ValueOutput, Assert.Single(model.Graph.Output).Name);
        Assert.Equal("regression", OnnxGraph.Metadata(model)["task"]);
        Assert.DoesNotContain("labels", OnnxGraph.Metadata(model).Keys);
    }

    [Fact]
    public void Export_RoundTrip_ParsesToEqualModel()
    {
        var model = OnnxMlpExporter.Build(ReferenceMlp.Create(MlpTask.Classification, seed: 5, 3, 4, 2));

        Assert.Equal(model, OnnxGraph.Load(model.ToByteArray()));
    }

    public static TheoryData<string, Func<MlpDefinition, MlpDefinition>> InvalidDefinitions => new()
    {
        { "FeatureNames is empty", d => d with { FeatureNames = [], FeatureMean = [], FeatureStd = [] } },
        { "FeatureNames contains 'f0' more than once", d => d with { FeatureNames = ["f0", "f0", "f2", "f3", "f4"] } },
        { "FeatureNames[2] is empty", d => d with { FeatureNames = ["f0", "f1", " ", "f3", "f4"] } },
        { "FeatureMean has 4 values; expected the number of features = 5", d => d with { FeatureMean = new float[4] } },
        { "FeatureStd[1] is NaN", d => d with { FeatureStd = [1, float.NaN, 1, 1, 1] } },
        { "Layers is empty", d => d with { Layers = [] } },
        { "Layers[0].InputSize is 5 but the number of features is 4", d => d with
            {
                FeatureNames = ["a", "b", "c", "d"], FeatureMean = new float[4], FeatureStd = new float[4],
            }
        },
        { "Layers[1].InputSize is 16 but Layers[0].OutputSize is 15", d => d with
            {
                Layers = [d.Layers[0] with { OutputSize = 15, Weight = new float[75], Bias = new float[15] }, .. d.Layers.Skip(1)],
            }
        },
        { "Layers[1].Weight has 127 values; expected OutputSize × InputSize = 128", d => d with
            {
                Layers = [d.Layers[0], d.Layers[1] with { Weight = new float[127] }, d.Layers[2]],
            }
        },
        { "Layers[2].Bias has 2 values; expected OutputSize = 3", d => d with
            {
                Layers = [d.Layers[0], d.Layers[1], d.Layers[2] with { Bias = new float[2] }],
            }
        },
        { "Layers[0].Weight[3] is Infinity", d => d with
            {
                Layers = [d.Layers[0] with { Weight = [.. d.Layers[0].Weight.Select((w, i) => i == 3 ? float.PositiveInfinity : w)] }, .. d.Layers.Skip(1)],
            }
        },
        { "Layers[2] has InputSize 8 and OutputSize 0", d => d with
            {
                Layers = [d.Layers[0], d.Layers[1], d.Layers[2] with { OutputSize = 0, Weight = [], Bias = [] }],
                ClassLabels = [],
            }
        },
        { "ClassLabels has 0 label(s); classification needs at least 2", d => d with { ClassLabels = null } },
        { "ClassLabels has 2 labels but the last layer has OutputSize 3", d => d with { ClassLabels = ["a", "b"] } },
        { "ClassLabels contains 'a' more than once", d => d with { ClassLabels = ["a", "b", "a"] } },
        { "ClassLabels must be null or empty for regression", d => d with { Task = MlpTask.Regression } },
        { "the last layer has OutputSize 3; regression needs exactly 1", d => d with { Task = MlpTask.Regression, ClassLabels = null } },
        { "Task 7 is not a known task", d => d with { Task = (MlpTask)7 } },
    };

    [Theory]
    [MemberData(nameof(InvalidDefinitions))]
    public void Build_InvalidDefinition_ThrowsArgumentExceptionNamingProblem(string problem, Func<MlpDefinition, MlpDefinition> corrupt)
    {
        var definition = corrupt(ReferenceMlp.Create(MlpTask.Classification, seed: 1, 5, 16, 8, 3));

        var exception = Assert.Throws<ArgumentException>(() => OnnxMlpExporter.Build(definition));

        Assert.Equal("definition", exception.ParamName);
        Assert.Contains(problem, exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Build_RegressorWithNonFiniteTarget_ThrowsArgumentException()
    {
        var definition = ReferenceMlp.Create(MlpTask.Regression, seed: 1, 4, 1) with { TargetStd = float.NaN };

        var exception = Assert.Throws<ArgumentException>(() => OnnxMlpExporter.Build(definition));

        Assert.Contains("TargetStd (NaN) must be finite", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("features")]
    [InlineData("labels")]
    [InlineData("task")]
    public void Build_MetadataUsingReservedKey_ThrowsArgumentException(string key)
    {
        var definition = ReferenceMlp.Create(MlpTask.Classification, seed: 1, 2, 2);

        var exception = Assert.Throws<ArgumentException>(
            () => OnnxMlpExporter.Build(definition, new Dictionary<string, string> { [key] = "x" }));

        Assert.Equal("metadata", exception.ParamName);
        Assert.StartsWith($"Metadata key '{key}' is written by the exporter itself.", exception.Message, StringComparison.Ordinal);
    }
}
