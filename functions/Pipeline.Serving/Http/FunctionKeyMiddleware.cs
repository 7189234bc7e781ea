using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Pipeline.Serving.Http;

/// <summary>Checks <c>x-functions-key</c> (or <c>?code=</c>, as the Functions host accepts) like the host does for <c>authLevel: function</c>.</summary>
public sealed class FunctionKeyMiddleware(RequestDelegate next, IOptions<FunctionKeyOptions> options, IProblemDetailsService problems)
{
    public const string HeaderName = "x-functions-key";

    /// <summary>Paths that stay anonymous, as their function.json says (<c>authLevel: anonymous</c>).</summary>
    public static readonly string[] AnonymousPaths = ["/api/health", OpenApiDocument.Path];

    private readonly byte[]? _key = options.Value.FunctionKey is { Length: > 0 } key ? Encoding.UTF8.GetBytes(key) : null;

    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (_key is null || !path.StartsWithSegments("/api") || IsAnonymous(path))
        {
            return next(context);
        }

        var given = context.Request.Headers[HeaderName].FirstOrDefault() ?? context.Request.Query["code"].FirstOrDefault();
        if (given is not null && given.Length <= 256 && Matches(given))
        {
            return next(context);
        }

        return UnauthorizedAsync(context, given);
    }

    private static bool IsAnonymous(PathString path)
    {
        foreach (var anonymous in AnonymousPaths)
        {
            if (path.Equals(anonymous, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Constant-time comparison, without allocating (keys are at most 256 characters).</summary>
    private bool Matches(string given)
    {
        Span<byte> bytes = stackalloc byte[256 * 3];
        var length = Encoding.UTF8.GetBytes(given, bytes);
        return CryptographicOperations.FixedTimeEquals(bytes[..length], _key);
    }

    private Task UnauthorizedAsync(HttpContext context, string? given)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = given is null ? "Function key required" : "Invalid function key",
                Detail = given is null
                    ? $"Send the function key in the {HeaderName} header (or ?code=)."
                    : $"The key in {HeaderName} is not valid for this app.",
            },
        }).AsTask();
    }
}
