using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>A version's manifest and its training report files (report.md, report-*.png), read from the model store.</summary>
public sealed class ModelReportApiTests() : ServedModelTest("report")
{
    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];

    [Fact]
    public async Task GetVersion_ReturnsItsManifest()
    {
        var manifest = JsonNode.Parse(await Client.GetStringAsync(new Uri($"/api/models/{Model}/versions/v1", UriKind.Relative), Cancellation))!;

        Assert.Equal("v1", manifest["version"]!.GetValue<string>());
        Assert.Equal(0.9, manifest["testMetrics"]!["accuracy"]!.GetValue<double>());
    }

    [Fact]
    public async Task GetVersion_BringYourOwnOnnx_Is404()
    {
        await TestModels.UploadAsync(Model, "byo/model.onnx", TestModels.TwoClass(bias: 0));

        using var response = await Client.GetAsync(new Uri($"/api/models/{Model}/versions/byo", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("bring-your-own", await response.Content.ReadAsStringAsync(Cancellation), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetFile_ServesReportPlotsAndMarkdown_WithTheirContentTypes()
    {
        await TestModels.UploadAsync(Model, "v1/report-confusion.png", Png);
        await TestModels.UploadAsync(Model, "v1/report.md", "# Report"u8.ToArray());

        using var png = await Client.GetAsync(new Uri($"/api/models/{Model}/versions/v1/files/report-confusion.png", UriKind.Relative), Cancellation);
        using var markdown = await Client.GetAsync(new Uri($"/api/models/{Model}/versions/v1/files/report.md", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Png, await png.Content.ReadAsByteArrayAsync(Cancellation));
        Assert.Equal("text/markdown", markdown.Content.Headers.ContentType?.MediaType);
        Assert.Equal("# Report", await markdown.Content.ReadAsStringAsync(Cancellation));
    }

    [Theory]
    [InlineData("model.onnx")]
    [InlineData("manifest.json")]
    [InlineData("report-.png")]
    [InlineData("report-Loss.PNG")]
    [InlineData("..%2Fcurrent.json")]
    [InlineData("report-missing.png")]
    public async Task GetFile_NotAReportFile_Is404(string file)
    {
        using var response = await Client.GetAsync(new Uri($"/api/models/{Model}/versions/v1/files/{file}", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
