using System.Diagnostics;
using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Telemetry;

namespace Pipeline.Tests.Contracts;

public class TraceContextTests
{
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void Parse_ValidTraceParent_IsTheRemoteParent()
    {
        var context = TraceContext.Parse(TraceParent, "vendor=value");

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", context.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", context.SpanId.ToHexString());
        Assert.True(context.IsRemote);
        Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        Assert.Equal("vendor=value", context.TraceState);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-a-traceparent")]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01")]
    public void Parse_AbsentOrMalformed_IsNoParent(string? traceParent) => Assert.Equal(default, TraceContext.Parse(traceParent, null));

    [Fact]
    public void TraceParent_OfAnActivity_RoundTripsThroughParse()
    {
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
        activity.TraceStateString = "a=1";

        var context = TraceContext.Parse(TraceContext.TraceParent(activity), TraceContext.TraceState(activity));

        Assert.Equal(activity.TraceId, context.TraceId);
        Assert.Equal(activity.SpanId, context.SpanId);
        Assert.Equal(activity.TraceId.ToHexString(), TraceContext.TraceId(activity));
        Assert.Null(TraceContext.TraceParent(null));
    }

    [Fact]
    public void TrainRequest_WithoutTraceContext_StillReads_AndWritesNoTraceFields()
    {
        var request = JsonSerializer.Deserialize("""{"dataset":"sales","datasetVersion":"abc","model":"sales"}""", PipelineJson.Default.TrainRequest)!;

        Assert.Null(request.TraceParent);
        Assert.DoesNotContain("trace", JsonSerializer.Serialize(request, PipelineJson.Default.TrainRequest), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void TrainRequest_WithTraceContext_RoundTrips()
    {
        var json = JsonSerializer.Serialize(new TrainRequest { Dataset = "d", DatasetVersion = "v", TraceParent = TraceParent, TraceState = "k=v" }, PipelineJson.Default.TrainRequest);

        Assert.Contains("\"traceParent\"", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize(json, PipelineJson.Default.TrainRequest)!;
        Assert.Equal(TraceParent, back.TraceParent);
        Assert.Equal("k=v", back.TraceState);
    }
}
