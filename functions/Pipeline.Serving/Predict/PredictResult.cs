using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Pipeline.Serving.Predict;

/// <summary>
/// Writes <c>{"model","version","predictions":[...]}</c> straight from the output buffer with a <see cref="Utf8JsonWriter"/>
/// on the response pipe (labels pre-encoded per model), then returns the pooled buffer: no per-row objects.
/// </summary>
public sealed class PredictResult(string model, LoadedModel loaded, Pooled<float> output, int rows) : IResult
{
    private static readonly JsonEncodedText ModelProperty = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText VersionProperty = JsonEncodedText.Encode("version");
    private static readonly JsonEncodedText PredictionsProperty = JsonEncodedText.Encode("predictions");
    private static readonly JsonEncodedText LabelProperty = JsonEncodedText.Encode("label");
    private static readonly JsonEncodedText ProbabilitiesProperty = JsonEncodedText.Encode("probabilities");
    private static readonly JsonEncodedText ValueProperty = JsonEncodedText.Encode("value");

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        try
        {
            httpContext.Response.StatusCode = StatusCodes.Status200OK;
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            var pipe = httpContext.Response.BodyWriter;
            await using (var writer = new Utf8JsonWriter(pipe))
            {
                Write(writer);
            }

            await pipe.FlushAsync(httpContext.RequestAborted);
        }
        finally
        {
            output.Dispose();
        }
    }

    private void Write(Utf8JsonWriter writer)
    {
        var width = loaded.OutputWidth;
        var labels = loaded.EncodedLabels;
        var values = output.Span;
        writer.WriteStartObject();
        writer.WriteString(ModelProperty, model);
        writer.WriteString(VersionProperty, loaded.Version);
        writer.WriteStartArray(PredictionsProperty);
        for (var r = 0; r < rows; r++)
        {
            var row = values.Slice(r * width, width);
            writer.WriteStartObject();
            if (loaded.IsClassification)
            {
                var best = 0;
                for (var k = 1; k < width; k++)
                {
                    if (row[k] > row[best])
                    {
                        best = k;
                    }
                }

                writer.WriteString(LabelProperty, labels[best]);
                writer.WriteStartObject(ProbabilitiesProperty);
                for (var k = 0; k < width; k++)
                {
                    writer.WriteNumber(labels[k], row[k]);
                }

                writer.WriteEndObject();
            }
            else
            {
                writer.WriteNumber(ValueProperty, row[0]);
            }

            writer.WriteEndObject();
            if (writer.BytesPending > 16 * 1024)
            {
                writer.Flush(); // into the pipe's buffer; sent by the FlushAsync at the end
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
