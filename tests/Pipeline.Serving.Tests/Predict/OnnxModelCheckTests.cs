using Pipeline.Contracts;
using Pipeline.Serving.Predict;
using Pipeline.Tests.Infrastructure;
using Pipeline.Training.Onnx;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>ONNX files are checked by walking their protobuf before ONNX Runtime reads them.</summary>
public sealed class OnnxModelCheckTests
{
    private const long Limit = 1024L * 1024 * 1024;

    [Fact]
    public void Check_TrainerModel_PassesAndNamesItsProducer()
    {
        var facts = OnnxModelCheck.Check(TestModels.TwoClass(bias: 0, hidden: 16), Limit);

        Assert.Equal(OnnxMlpExporter.ProducerName, facts.ProducerName);
        Assert.Equal(ModelRegistry.TrainerProducerName, facts.ProducerName); // serving's copy of the constant stays in step
        Assert.True(facts.InitializerBytes >= 16 * 16 * 4, $"{facts.InitializerBytes} initializer bytes");
        Assert.True(facts.Nodes > 0);
    }

    [Fact]
    public void Check_ForeignModels_Pass()
    {
        OnnxModelCheck.Check(TestModels.LinearRegression([1, 2, 3], bias: 0.5f), Limit);
        OnnxModelCheck.Check(TestModels.ColumnsClassifier(["a", "b"]), Limit);
        OnnxModelCheck.Check(HostileModels.ConstantOfShape(constantShape: true), Limit);
        OnnxModelCheck.Check(HostileModels.Slow(2), Limit);
    }

    [Fact]
    public void Check_ExternalDataInitializer_IsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(HostileModels.ExternalData(), Limit));

        Assert.Contains("tensor 'w' keeps its data in an external file", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Loop")]
    [InlineData("Scan")]
    [InlineData("If")]
    [InlineData("SequenceMap")]
    public void Check_ControlFlow_IsRefused(string opType)
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(HostileModels.WithNode(opType, ["X"]), Limit));

        Assert.Contains($"control flow ({opType})", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_SubgraphAttributeUnderAnotherName_IsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(HostileModels.WithSubgraphAttribute(), Limit));

        Assert.Contains("control flow (com.example.Whatever)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_MoreNodesThanTheLimit_IsRefused_AndAtTheLimitPasses()
    {
        var model = HostileModels.Slow(multiplications: 50);
        var nodes = OnnxModelCheck.Check(model, Limit).Nodes;

        OnnxModelCheck.Check(model, Limit, maxNodes: nodes);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(model, Limit, maxNodes: nodes - 1));

        Assert.True(nodes > 50);
        Assert.Contains($"more than {nodes - 1} nodes (Models:MaxNodes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_OutputSizeReadFromTheRequest_IsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(HostileModels.ConstantOfShape(constantShape: false), Limit));

        Assert.Contains("ConstantOfShape takes its output size from input 'shape'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(300_000L, 300_000)] // 1.2 MB carried
    [InlineData(1L << 40, 4)] // declares 4 TB, carries 16 bytes
    public void Check_InitializersOverTheLimit_AreRefused(long declared, int carried)
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(HostileModels.LargeInitializer(declared, carried), 1024 * 1024));

        Assert.Contains("more than 1048576 bytes (Models:MaxInitializerBytes); tensor 'big'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_CorruptedFiles_FailAsInvalidDataOnly()
    {
        // Seeded mutations (flipped bytes, truncations) of valid files: the check refuses or passes them, it never crashes or hangs.
        var random = new Random(21);
        byte[][] seeds = [TestModels.TwoClass(bias: 1), TestModels.ColumnsClassifier(["a", "b"]), HostileModels.ExternalData()];
        var refused = 0;
        for (var i = 0; i < 5000; i++)
        {
            var bytes = (byte[])seeds[i % seeds.Length].Clone();
            if (i % 3 == 0)
            {
                bytes = bytes[..random.Next(bytes.Length)];
            }
            else
            {
                for (var k = 0; k < 1 + random.Next(4); k++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
            }

            try
            {
                OnnxModelCheck.Check(bytes, Limit);
            }
            catch (InvalidDataException)
            {
                refused++;
            }
        }

        Assert.True(refused > 1000, $"only {refused} of 5000 corrupted files were refused");
    }

    [Fact]
    public void Check_NotProtobuf_IsRefused() =>
        Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check("this is not an ONNX graph"u8, Limit));
}
