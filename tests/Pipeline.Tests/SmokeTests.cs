namespace Pipeline.Tests;

public class SmokeTests
{
    [Fact]
    public void Build_Works() => Assert.Equal(8, new Pipeline.Onnx.Proto.ModelProto { IrVersion = 8 }.IrVersion);
}
