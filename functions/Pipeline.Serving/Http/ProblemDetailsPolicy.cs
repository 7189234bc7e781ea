using System.Diagnostics;

namespace Pipeline.Serving.Http;

/// <summary>Every problem response carries a trace id; a 5xx from an unhandled exception never carries its message, stack trace or paths.</summary>
public static class ProblemDetailsPolicy
{
    public static void Apply(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
        if (context.Exception is not null)
        {
            problem.Extensions.Remove("exception");
            problem.Title = "Internal error";
            problem.Detail = "The request failed on the server. The trace id identifies it in the app's logs.";
        }
    }
}
