using Pipeline.Serving.Predict;

namespace Pipeline.Serving.Http;

/// <summary>The anonymous <c>Health</c> function: <c>GET /api/health</c>. Reports what this instance serves; never touches storage.</summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/health", (ModelRegistry registry) =>
        {
            var models = registry.Snapshot();
            var (bytes, count) = registry.CacheUsage;
            return TypedResults.Json(new HealthReport
            {
                Status = models.Any(m => m.Problem is not null) ? "degraded" : "healthy",
                Models = [.. models],
                CacheBytes = bytes,
                CachedVersions = count,
            }, PredictJson.Default.HealthReport);
        });
        return app;
    }
}
