using Azure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Serving.Http;
using Pipeline.Storage;

namespace Pipeline.Serving.Predict;

/// <summary>
/// The HTTP functions <c>Predict</c> (<c>POST /api/models/{name}/predict</c>), <c>Models</c>
/// (<c>GET /api/models[/{name}]</c>), <c>ModelDrift</c> (<c>GET /api/models/{name}/drift</c>) and <c>SetCurrent</c> (<c>POST /api/models/{name}/current</c>).
/// </summary>
public static partial class PredictApi
{
    public static IEndpointRouteBuilder MapPredictApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models");
        models.MapPost("/{name}/predict", PredictAsync);
        models.MapPost("/{name}/current", SetCurrentAsync);
        models.MapGet("/", ListAsync);
        models.MapGet("/{name}", GetAsync);
        models.MapGet("/{name}/drift", GetDriftAsync);
        return app;
    }

    private static async Task<Results<PredictResult, ProblemHttpResult>> PredictAsync(
        string name, string? version, HttpContext context, ModelRegistry registry, IOptions<ModelOptions> options, TimeProvider time,
        Monitoring.PredictionLog log, ILogger<ModelRegistry> logger, CancellationToken cancellationToken)
    {
        using var activity = ServingTelemetry.StartPredict();
        var started = time.GetTimestamp();
        var status = StatusCodes.Status500InternalServerError;
        try
        {
            var result = await AnswerAsync(name, version, context, registry, options, time, log, logger, cancellationToken);
            status = result.Result is ProblemHttpResult problem ? problem.StatusCode : StatusCodes.Status200OK;
            return result;
        }
        catch (Exception e)
        {
            status = ProblemDetailsPolicy.StatusCodeOf(e);
            throw;
        }
        finally
        {
            // Tagged by name only for a model this app serves: any caller can put any name in the route.
            var model = StorageNames.IsValidName(name) && registry.Serves(name) ? name : ServingTelemetry.UnknownModel;
            ServingTelemetry.PredictFinished(activity, model, status, time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static async Task<Results<PredictResult, ProblemHttpResult>> AnswerAsync(
        string name, string? version, HttpContext context, ModelRegistry registry, IOptions<ModelOptions> options, TimeProvider time,
        Monitoring.PredictionLog log, ILogger<ModelRegistry> logger, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(name))
        {
            return NotFound(name);
        }

        if (version is not null && !StorageNames.IsValidVersion(version))
        {
            return InvalidVersion(version);
        }

        var limits = options.Value;
        using var timeout = new CancellationTokenSource(limits.RequestTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        LoadedModel? model = null;
        try
        {
            using var body = await PredictRequestReader.ReadBodyAsync(context.Request, limits.MaxBodyBytes, token);
            model = await registry.LeaseAsync(name, version, token);
            if (model is null)
            {
                return version is null ? NotFound(name) : VersionNotFound(name, version);
            }

            using var features = PredictRequestReader.Parse(body.Span, model, limits.MaxRows, out var rows);
            var output = new Pooled<float>(System.Buffers.ArrayPool<float>.Shared.Rent(rows * model.OutputWidth), rows * model.OutputWidth);
            try
            {
                using var runOptions = new RunOptions();
                using (token.Register(static o => ((RunOptions)o!).Terminate = true, runOptions))
                {
                    model.Run(features.Array, rows, output.Array, runOptions);
                }

                // Validated before anything is written: a response is either a whole prediction document or a problem.
                if (FirstNonFiniteRow(output.Span, model.OutputWidth) is var row and >= 0)
                {
                    return TypedResults.Problem(
                        $"Row {row} drives the model to a non-finite output (NaN or infinity); its values are probably far outside the range the model was trained on. No row was answered.",
                        statusCode: StatusCodes.Status422UnprocessableEntity, title: "Non-finite prediction");
                }

                log.Record(name, model.Version, body.Span, rows, output.Span, model.OutputWidth);
                ServingTelemetry.Answered(name, model.Version, rows);
                var result = new PredictResult(name, model, output, rows);
                output = default;
                return result;
            }
            finally
            {
                output.Dispose();
            }
        }
        catch (PredictRequestException e)
        {
            return TypedResults.Problem(e.Message, statusCode: e.Status, title: e.Title);
        }
        catch (LoadLimitException e)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(e.Message, statusCode: e.Status, title: "Too many model loads");
        }
        catch (ModelUnavailableException e) when (e.NotReady)
        {
            context.Response.Headers.RetryAfter = "2";
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Model version not ready");
        }
        catch (ModelUnavailableException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Model unavailable");
        }
        catch (Exception e) when (e is RequestFailedException or IOException && !cancellationToken.IsCancellationRequested && !timeout.IsCancellationRequested)
        {
            LogStorageFailed(logger, e, name);
            context.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem("Model storage could not be read; try again.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable");
        }
        catch (Exception e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested && e is OperationCanceledException or OnnxRuntimeException)
        {
            return TypedResults.Problem($"The request took longer than {limits.RequestTimeout.TotalSeconds:0.###} s and was stopped.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Request timed out");
        }
        finally
        {
            model?.Release();
        }
    }

    private static async Task<Results<JsonHttpResult<SetCurrentResponse>, ProblemHttpResult>> SetCurrentAsync(
        string name, HttpRequest request, ModelCatalog catalog, CancellationToken cancellationToken)
    {
        if (!StorageNames.IsValidName(name))
        {
            return NotFound(name);
        }

        SetCurrentRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync(PredictJson.Default.SetCurrentRequest, cancellationToken);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            return TypedResults.Problem("The body must be JSON: {\"version\":\"<version>\"}.", statusCode: StatusCodes.Status400BadRequest, title: "Invalid body");
        }

        if (body?.Version is not { } version || !StorageNames.IsValidVersion(version))
        {
            return body?.Version is null
                ? TypedResults.Problem("The body must name the version: {\"version\":\"<version>\"}.", statusCode: StatusCodes.Status400BadRequest, title: "Missing version")
                : InvalidVersion(body.Version);
        }

        try
        {
            var (found, previous) = await catalog.SetCurrentAsync(name, version, cancellationToken);
            return found
                ? TypedResults.Json(new SetCurrentResponse { Model = name, Version = version, PreviousVersion = previous }, PredictJson.Default.SetCurrentResponse)
                : VersionNotFound(name, version);
        }
        catch (ModelUnavailableException e)
        {
            return TypedResults.Problem(e.Message + " current.json was not moved.", statusCode: StatusCodes.Status409Conflict, title: "Version cannot be served");
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return TypedResults.Problem($"models/{name}/current.json changed while it was being moved; read it again and retry.", statusCode: StatusCodes.Status409Conflict, title: "Concurrent change");
        }
    }

    private static async Task<JsonHttpResult<List<ModelSummary>>> ListAsync(ModelCatalog catalog, CancellationToken cancellationToken) =>
        TypedResults.Json(await catalog.ListAsync(cancellationToken), PredictJson.Default.ListModelSummary);

    private static async Task<Results<JsonHttpResult<ModelDetails>, ProblemHttpResult>> GetAsync(
        string name, ModelCatalog catalog, Monitoring.DriftReports drift, ILogger<ModelRegistry> logger, CancellationToken cancellationToken)
    {
        var details = StorageNames.IsValidName(name) ? await catalog.GetAsync(name, cancellationToken) : null;
        if (details is null)
        {
            return NotFound(name);
        }

        try
        {
            details.Drift = (await drift.LatestAsync(name, details.CurrentVersion, cancellationToken))?.Summary;
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or RequestFailedException || Http.ProblemDetailsPolicy.IsStorageUnreachable(e))
        {
            // The details stand without the drift summary.
            LogDriftUnreadable(logger, e, name);
        }

        return TypedResults.Json(details, PredictJson.Default.ModelDetails);
    }

    /// <summary><c>GET /api/models/{name}/drift</c>: the model's latest drift report as the functions app wrote it.</summary>
    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetDriftAsync(string name, Monitoring.DriftReports drift, CancellationToken cancellationToken)
    {
        (BinaryData Json, Monitoring.ModelDrift Summary)? latest;
        try
        {
            latest = StorageNames.IsValidName(name) ? await drift.LatestAsync(name, null, cancellationToken) : null;
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException)
        {
            return TypedResults.Problem($"The latest drift report of model '{name}' cannot be read: {e.Message} Run `pipeline drift {name}` to write a new one.",
                statusCode: StatusCodes.Status500InternalServerError, title: "Drift report unreadable");
        }

        return latest is { } found
            ? TypedResults.File(found.Json.ToArray(), "application/json")
            : TypedResults.Problem($"Model '{name}' has no drift report yet. Reports are written daily for every model with a current version, or on demand with `pipeline drift {name}`.",
                statusCode: StatusCodes.Status404NotFound, title: "No drift report");
    }

    /// <summary>The first row of <paramref name="values"/> (rows of <paramref name="width"/>) holding NaN or an infinity, or -1.</summary>
    internal static int FirstNonFiniteRow(ReadOnlySpan<float> values, int width)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i / width;
            }
        }

        return -1;
    }

    private static ProblemHttpResult NotFound(string name) =>
        TypedResults.Problem($"There is no model named '{name}'. GET /api/models lists the models that exist.", statusCode: StatusCodes.Status404NotFound, title: "Model not found");

    private static ProblemHttpResult VersionNotFound(string name, string version) =>
        TypedResults.Problem($"Model '{name}' has no version '{version}'. GET /api/models/{name} lists its versions.", statusCode: StatusCodes.Status404NotFound, title: "Version not found");

    private static ProblemHttpResult InvalidVersion(string version) =>
        TypedResults.Problem($"'{Truncate(version)}' is not a version name (1-128 letters, digits, '.', '-', '_').", statusCode: StatusCodes.Status400BadRequest, title: "Invalid version");

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    [LoggerMessage(Level = LogLevel.Warning, Message = "The latest drift report of {Model} could not be read; the model is shown without it")]
    private static partial void LogDriftUnreadable(ILogger logger, Exception exception, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model storage failed while serving {Model}")]
    private static partial void LogStorageFailed(ILogger logger, Exception exception, string model);
}
