using Pipeline.Serving.Predict;

namespace Pipeline.Serving.Http;

/// <summary>
/// The <c>Health</c> function, <c>GET /api/health</c>: anonymous, so it says only <c>healthy</c> or <c>degraded</c> (a
/// probe needs no more, and anyone may call it). The <c>HealthDetails</c> function, <c>GET /api/health/details</c>, needs a
/// function key and names the models, versions and reasons, and the drift status last read. Neither touches storage.
/// </summary>
public static class HealthApi
{
    public const string DetailsPath = "/api/health/details";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/health", (ModelRegistry registry) =>
            TypedResults.Json(new HealthStatus { Status = StatusOf(registry.Snapshot()) }, PredictJson.Default.HealthStatus));

        app.MapGet(DetailsPath, (ModelRegistry registry, Monitoring.PredictionLog log, Monitoring.DriftReports drift) =>
        {
            var models = registry.Snapshot();
            var (bytes, count) = registry.CacheUsage;
            return TypedResults.Json(new HealthReport
            {
                Status = StatusOf(models),
                Models = [.. models],
                CacheBytes = bytes,
                CachedVersions = count,
                Monitoring = log.Counters,
                Drift = [.. drift.Known],
            }, PredictJson.Default.HealthReport);
        });
        return app;
    }

    private static string StatusOf(IReadOnlyList<ServedModel> models) => models.Any(m => m.Problem is not null) ? "degraded" : "healthy";
}
