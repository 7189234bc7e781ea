using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Functions.Invocation;

namespace Pipeline.Preprocessing;

public static class PreprocessFunction
{
    public const string Name = "Preprocess";
    public const string TriggerBinding = "blobEvent";
    public const string OutputBinding = "trainRequest";

    /// <summary>
    /// <c>POST /Preprocess</c>: the Functions host's invocation for the <c>blob-created</c> queue trigger.
    /// A rejected upload, or a build that fails unexpectedly, completes the message (a report explains it); storage failures
    /// return 500 so the host retries.
    /// </summary>
    public static IEndpointRouteBuilder MapPreprocessFunction(this IEndpointRouteBuilder app)
    {
        app.MapPost($"/{Name}", HandleAsync);
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpRequest request, PreprocessHandler handler, CancellationToken cancellationToken)
    {
        InvocationRequest? invocation;
        try
        {
            invocation = await JsonSerializer.DeserializeAsync(request.Body, InvocationJson.Default.InvocationRequest, cancellationToken);
        }
        catch (JsonException e)
        {
            return TypedResults.Problem($"The invocation body is not valid JSON: {e.Message}", statusCode: StatusCodes.Status400BadRequest);
        }

        if (invocation?.Data is null || !invocation.Data.TryGetValue(TriggerBinding, out var value))
        {
            return TypedResults.Problem($"The invocation has no Data.{TriggerBinding}.", statusCode: StatusCodes.Status400BadRequest);
        }

        BlobCreatedEvent? blobEvent = null;
        if (InvocationData.DecodeObject(value) is { } json)
        {
            try
            {
                blobEvent = json.Deserialize(PipelineJson.Default.BlobCreatedEvent);
            }
            catch (JsonException)
            {
            }
        }

        if (blobEvent is null)
        {
            // Not an Event Grid event: fail the invocation so the message ends in blob-created-poison, where it can be inspected.
            return TypedResults.Problem($"Data.{TriggerBinding} is not an Event Grid BlobCreated event.", statusCode: StatusCodes.Status400BadRequest);
        }

        var outcome = await handler.HandleAsync(blobEvent, cancellationToken);
        var response = new InvocationResponse
        {
            Logs = [$"{outcome.Result}: {outcome.Detail ?? outcome.TrainRequest?.DatasetVersion}"],
        };
        if (outcome.TrainRequest is { } trainRequest)
        {
            response.Outputs[OutputBinding] = JsonSerializer.SerializeToNode(trainRequest, PipelineJson.Default.TrainRequest);
        }

        return TypedResults.Json(response, InvocationJson.Default.InvocationResponse);
    }
}
