using System.Diagnostics;
using Pipeline.Contracts;

namespace Pipeline.Serving.Http;

/// <summary>
/// Every problem response carries a trace id; a 5xx from an unhandled exception never carries its message, stack trace or
/// paths. Storage that cannot be reached (a transient failure: refused, timed out, 5xx, the SDK's retries spent) is 503
/// "Storage unavailable" with <c>Retry-After</c> on every route, not a server error.
/// </summary>
public static class ProblemDetailsPolicy
{
    public const string RetryAfterSeconds = "5";

    /// <summary>The status the exception handler answers an unhandled exception with.</summary>
    public static int StatusCodeOf(Exception exception) =>
        Failures.Classify(exception) == FailureKind.Transient ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;

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
