using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Console;
using Pipeline.Serving.Datasets;
using Pipeline.Serving.Http;
using Pipeline.Serving.Monitoring;
using Pipeline.Serving.Predict;
using Pipeline.Serving.Runs;
using Pipeline.Serving.Scoring;
using Pipeline.Serving.Storage;
using Pipeline.Telemetry;

namespace Pipeline.Serving;

/// <summary>
/// The serving function app (Predict, Models, SetCurrent, Health, OpenApi, Runs, Datasets, the web console): HTTP only, published with Native AOT so a
/// cold instance answers its first prediction in milliseconds. Models load lazily; start-up never touches storage.
/// </summary>
public static class ServingAppBuilder
{
    public static WebApplicationBuilder AddServingApp(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] is { Length: > 0 } port)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = ProblemDetailsPolicy.Apply);
        builder.Services.Configure<ExceptionHandlerOptions>(options => options.StatusCodeSelector = ProblemDetailsPolicy.StatusCodeOf);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddServingStorage(builder.Configuration);
        // ASP.NET Core's request activity is sampled too: the predict span is its child, and a span under an unsampled
        // parent would be dropped.
        builder.Services.AddPipelineTelemetry(builder.Configuration, "pipeline-serving", "Microsoft.AspNetCore");

        // Source-generated validators (no reflection, AOT-safe), run at start-up.
        builder.Services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        builder.Services.AddOptions<FunctionKeyOptions>().BindConfiguration(FunctionKeyOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<FunctionKeyOptions>, FunctionKeyOptionsValidator>();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddOptions<PredictionLogOptions>().BindConfiguration(PredictionLogOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PredictionLogOptions>, PredictionLogOptionsValidator>();
        builder.Services.AddSingleton(provider => new PredictionLog(
            provider.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(typeof(Azure.Storage.Blobs.BlobContainerClient), PredictionLog.ContainerKey) == true
                ? () => provider.GetRequiredKeyedService<Azure.Storage.Blobs.BlobContainerClient>(PredictionLog.ContainerKey)
                : null,
            provider.GetRequiredService<IOptions<PredictionLogOptions>>(), provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<PredictionLog>>()));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<PredictionLog>());
        builder.Services.AddSingleton<DriftReports>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<DriftReports>());

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

    public static WebApplication MapServingApp(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<FunctionKeyMiddleware>();

        // The Functions host treats any response on GET / as "the handler is ready". Never touches storage.
        app.MapGet("/", () => TypedResults.Ok("ready"));
        app.MapHealth();
        app.MapOpenApiDocument();
        app.MapPredictApi();
        app.MapModelReportApi();
        app.MapRunsApi();
        app.MapDatasetsApi();
        app.MapScoringApi();
        app.MapConsole();

        if (app.Configuration.GetValue<bool>("Bench:NoOp"))
        {
            // The HTTP floor for bench/run.sh: same server, middleware and key check; reads the body; no model.
            app.MapPost("/api/bench/noop", async (HttpRequest request, CancellationToken cancellationToken) =>
            {
                await request.Body.CopyToAsync(Stream.Null, cancellationToken);
                return TypedResults.Text("{\"ok\":true}", "application/json");
            });
        }

        return app;
    }
}
