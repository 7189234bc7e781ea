using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Http;
using Pipeline.Functions.Predict;
using Pipeline.Functions.Preprocess;
using Pipeline.Storage;

namespace Pipeline.Functions;

public static class FunctionsApp
{
    /// <summary>Listens where the Functions host says (<c>FUNCTIONS_CUSTOMHANDLER_PORT</c>) and registers every function's services.</summary>
    public static WebApplicationBuilder AddFunctionsApp(this WebApplicationBuilder builder)
    {
        if (builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] is { Length: > 0 } port)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = ProblemDetailsPolicy.Apply);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddPipelineStorage(builder.Configuration);

        builder.Services.AddOptions<PreprocessOptions>().BindConfiguration(PreprocessOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DatasetStore>();
        builder.Services.AddSingleton<PreprocessHandler>();

        builder.Services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<FunctionKeyOptions>().BindConfiguration(FunctionKeyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<ModelCatalog>();

        // Transport limits: the predict body limit is enforced again while reading (413 problem details); slow or
        // oversized requests are cut off by Kestrel before they reach a handler.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ModelOptions>>((kestrel, models) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = models.Value.MaxBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        return builder;
    }

    public static WebApplication MapFunctionsApp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<FunctionKeyMiddleware>();

        // The Functions host treats any response on GET / as "the handler is ready". Never touches storage.
        app.MapGet("/", () => TypedResults.Ok("ready"));
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
        app.MapOpenApiDocument();
        app.MapPreprocessFunction();
        app.MapPredictApi();
        return app;
    }
}
