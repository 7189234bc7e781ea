using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Serving.Http;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Http;

/// <summary>The served OpenAPI document describes exactly the mapped /api endpoints, and every one of them is exposed by a function.json.</summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private readonly ServingAppFactory _app = new();
    private HttpClient _client = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _client = _app.CreateClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    /// <summary>(METHOD, /path/{param}) of every endpoint under /api; the host-only endpoints (GET /, POST /Preprocess) are not part of the HTTP API.</summary>
    private HashSet<string> MappedApiOperations() =>
        [.. _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {Normalize(e.RoutePattern.RawText!)}"))];

    private static string Normalize(string route) => route.TrimEnd('/').Replace("{name?}", "{name}", StringComparison.Ordinal);

    [Fact]
    public async Task Document_Paths_AreExactlyTheMappedApiEndpoints()
    {
        var document = JsonNode.Parse(await _client.GetStringAsync(new Uri(OpenApiDocument.Path, UriKind.Relative), Cancellation))!;

        var documented = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(operation => $"{operation.Key.ToUpperInvariant()} {path.Key}"))
            .ToHashSet();

        Assert.Equal("3.1.0", document["openapi"]!.GetValue<string>());
        Assert.Equal(MappedApiOperations().Order(), documented.Order());
    }

    [Fact]
    public async Task Document_References_AllResolve()
    {
        var text = await _client.GetStringAsync(new Uri(OpenApiDocument.Path, UriKind.Relative), Cancellation);
        var document = JsonNode.Parse(text)!;

        var references = System.Text.RegularExpressions.Regex.Matches(text, "\"\\$ref\": \"#/([^\"]+)\"").Select(m => m.Groups[1].Value).Distinct();
        foreach (var reference in references)
        {
            var node = reference.Split('/').Aggregate<string, JsonNode?>(document, (current, part) => current?[part]);
            Assert.True(node is not null, $"$ref #/{reference} does not resolve");
        }
    }

    [Fact]
    public void FunctionJson_Routes_CoverEveryApiEndpoint()
    {
        // Azure only routes what a function.json declares: every mapped /api endpoint needs one (route and method).
        var declared = Directory.GetFiles(AppContext.BaseDirectory, "function.json", SearchOption.AllDirectories)
            .Select(file => JsonNode.Parse(File.ReadAllText(file))!["bindings"]!.AsArray().SingleOrDefault(b => b!["type"]!.GetValue<string>() == "httpTrigger"))
            .Where(b => b is not null)
            .SelectMany(b => b!["methods"]!.AsArray().SelectMany(m => Expand("/" + b["route"]!.GetValue<string>()).Select(route => $"{m!.GetValue<string>().ToUpperInvariant()} {route}")))
            .Where(operation => operation.Contains(" /api/", StringComparison.Ordinal))
            .ToHashSet();

        Assert.Equal(MappedApiOperations().Order(), declared.Order());
    }

    /// <summary>An optional last segment (<c>models/{name?}</c>, <c>runs/{id?}</c>) matches with and without it.</summary>
    private static IEnumerable<string> Expand(string route) =>
        System.Text.RegularExpressions.Regex.Match(route, @"/\{(\w+)\?\}$") is { Success: true } optional
            ? [route[..optional.Index], $"{route[..optional.Index]}/{{{optional.Groups[1].Value}}}"]
            : [route];
}
