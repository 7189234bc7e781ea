using System.Collections.Frozen;
using System.Security.Cryptography;

namespace Pipeline.Serving.Console;

/// <summary>
/// The web console (<c>Console/wwwroot</c>: HTML, CSS and JavaScript modules, no build step), embedded in the executable
/// and served at <c>/console/</c> by the <c>Console</c> function (anonymous: the pages hold no data; every data call goes
/// to <c>/api/*</c> with the function key the user enters, and in Azure App Service Authentication signs users in first).
/// </summary>
public static class ConsoleFiles
{
    public const string Path = "/console";
    private const string ResourcePrefix = "console/";

    /// <summary>
    /// Scripts and styles from this app only; plots are fetched with the key and shown from <c>blob:</c> URLs; never framed.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    private sealed record ConsoleFile(byte[] Content, string ContentType, string ETag);

    private static readonly Lazy<FrozenDictionary<string, ConsoleFile>> Files = new(Load);

    public static IEndpointRouteBuilder MapConsole(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path + "/{**file}", Serve);
        return app;
    }

    /// <summary>The embedded file names (relative to <c>wwwroot</c>), for tests.</summary>
    public static IEnumerable<string> Names => Files.Value.Keys;

    private static IResult Serve(string? file, HttpContext context)
    {
        if (string.IsNullOrEmpty(file) && !context.Request.Path.Value!.EndsWith('/'))
        {
            // The pages' relative links (app.css, js/…) need the folder's trailing slash.
            return TypedResults.Redirect(Path + "/");
        }

        if (!Files.Value.TryGetValue(string.IsNullOrEmpty(file) ? "index.html" : file, out var found))
        {
            return TypedResults.NotFound();
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        headers.ETag = found.ETag;
        if (context.Request.Headers.IfNoneMatch == found.ETag)
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Bytes(found.Content, found.ContentType);
    }

    private static FrozenDictionary<string, ConsoleFile> Load()
    {
        var assembly = typeof(ConsoleFiles).Assembly;
        var files = new Dictionary<string, ConsoleFile>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var relative = name[ResourcePrefix.Length..].Replace('\\', '/');
            files[relative] = new ConsoleFile(content, ContentTypeOf(relative), $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentTypeOf(string file) => System.IO.Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };
}
