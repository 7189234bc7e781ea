
namespace Pipeline.Serving.Http;

/// <summary>
/// Serves the hand-written OpenAPI 3.1 document (<c>Http/openapi.json</c>, embedded): no reflection-based generator, so
/// it is the same under Native AOT. A test checks that its paths and methods are exactly the mapped endpoints.
/// </summary>
public static class OpenApiDocument
{
    public const string Path = "/api/openapi.json";

    private static readonly Lazy<byte[]> Document = new(() =>
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream("Pipeline.Serving.openapi.json")
            ?? throw new InvalidOperationException("The embedded OpenAPI document is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IEndpointRouteBuilder MapOpenApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, () => TypedResults.Bytes(Document.Value, "application/json"));
        return app;
    }

    /// <summary>The document's bytes (for tests and tools).</summary>
    public static ReadOnlyMemory<byte> Bytes => Document.Value;
}
