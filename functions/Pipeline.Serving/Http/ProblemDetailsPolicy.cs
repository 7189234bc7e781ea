using System.Diagnostics;
using System.Net.Sockets;
using Azure;

namespace Pipeline.Serving.Http;

/// <summary>
/// Every problem response carries a trace id; a 5xx from an unhandled exception never carries its message, stack trace or
/// paths. Storage that cannot be reached (refused, 408/429/5xx, the SDK's retries spent) is 503 "Storage unavailable"
/// with <c>Retry-After</c> on every route, not a server error; a request Kestrel could not read keeps its 4xx.
/// </summary>
public static class ProblemDetailsPolicy
{
    public const string RetryAfterSeconds = "5";

    /// <summary>The status the exception handler answers an unhandled exception with.</summary>
    public static int StatusCodeOf(Exception exception) => exception switch
    {
        BadHttpRequestException bad => bad.StatusCode,
        _ when IsStorageUnreachable(exception) => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>
    /// Storage did not answer, or answered 408/429/5xx — also once the SDK's retries are spent (an
    /// <see cref="AggregateException"/> of its attempts). Not any I/O error: a bad request body or a missing local file
    /// is not storage being down.
    /// </summary>
    public static bool IsStorageUnreachable(Exception exception) => exception switch
    {
        RequestFailedException e => e.Status is 0 or 408 or 429 or >= 500,
        AggregateException e => e.Flatten().InnerExceptions.All(IsStorageUnreachable),
        HttpRequestException or SocketException => true,
        _ => false,
    };

    public static void Apply(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
        if (context.Exception is null)
        {
            return;
        }

        problem.Extensions.Remove("exception");
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            problem.Title = "Storage unavailable";
            problem.Detail = "Storage could not be reached; try again.";
            context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
        }
        else
        {
            problem.Title = "Internal error";
            problem.Detail = "The request failed on the server. The trace id identifies it in the app's logs.";
        }
    }
}
