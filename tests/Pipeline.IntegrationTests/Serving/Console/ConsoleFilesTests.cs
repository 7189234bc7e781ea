using System.Net;
using Pipeline.Serving.Console;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Console;

/// <summary>The console's static files, embedded in the app: served without a key, with a strict Content-Security-Policy.</summary>
public sealed class ConsoleFilesTests : IAsyncLifetime
{
    private readonly ServingAppFactory _app = new();
    private HttpClient _anonymous = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        // Without the function key, as a browser opening the console for the first time.
        _anonymous = _app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        _anonymous.DefaultRequestHeaders.Remove(Pipeline.Serving.Http.FunctionKeyMiddleware.HeaderName);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _anonymous.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Index_IsServedWithoutAKey_WithSecurityHeaders()
    {
        using var response = await _anonymous.GetAsync(new Uri("/console/", UriKind.Relative), Cancellation);
        var html = await response.Content.ReadAsStringAsync(Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script type=\"module\" src=\"js/app.js\">", html, StringComparison.Ordinal);
        Assert.Equal(ConsoleFiles.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Folder_WithoutTrailingSlash_Redirects()
    {
        using var response = await _anonymous.GetAsync(new Uri("/console", UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/console/", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task EveryEmbeddedFile_IsServedWithItsContentType_AndRevalidates()
    {
        Assert.Contains("js/app.js", ConsoleFiles.Names);
        foreach (var name in ConsoleFiles.Names)
        {
            using var response = await _anonymous.GetAsync(new Uri("/console/" + name, UriKind.Relative), Cancellation);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var expected = Path.GetExtension(name) switch { ".js" => "text/javascript", ".css" => "text/css", ".html" => "text/html", ".svg" => "image/svg+xml", _ => "?" };
            Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);

            using var again = new HttpRequestMessage(HttpMethod.Get, new Uri("/console/" + name, UriKind.Relative));
            again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            using var revalidated = await _anonymous.SendAsync(again, Cancellation);
            Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        }
    }

    [Theory]
    [InlineData("/console/no-such-file.js")]
    [InlineData("/console/../appsettings.json")]
    [InlineData("/console/js/../../appsettings.json")]
    public async Task UnknownFile_Is404(string path)
    {
        using var response = await _anonymous.GetAsync(new Uri(path, UriKind.Relative), Cancellation);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
