using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Pipeline.Functions.Invocation;

/// <summary>
/// What the Functions host POSTs to <c>/{FunctionName}</c> for a non-HTTP trigger:
/// <c>{"Data":{"&lt;binding&gt;":&lt;value&gt;},"Metadata":{...}}</c>.
/// </summary>
public sealed class InvocationRequest
{
    public Dictionary<string, JsonElement> Data { get; set; } = [];

    public Dictionary<string, JsonElement> Metadata { get; set; } = [];
}

/// <summary>
/// The handler's reply: <c>{"Outputs":{"&lt;binding&gt;":&lt;value&gt;},"Logs":[...],"ReturnValue":...}</c>.
/// Output values are always JSON objects: the host turns a plain string that happens to be valid base64 into bytes.
/// </summary>
public sealed class InvocationResponse
{
    public Dictionary<string, JsonNode?> Outputs { get; set; } = [];

    public List<string> Logs { get; set; } = [];

    public JsonNode? ReturnValue { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(InvocationRequest))]
[JsonSerializable(typeof(InvocationResponse))]
public sealed partial class InvocationJson : JsonSerializerContext;

public static class InvocationData
{
    /// <summary>
    /// The JSON document a trigger value carries. Queue messages arrive as a JSON object, or as a string holding JSON,
    /// sometimes encoded twice; every form yields the same document. <c>null</c> when the value holds no JSON object.
    /// </summary>
    public static JsonElement? DecodeObject(JsonElement value)
    {
        for (var depth = 0; depth < 3; depth++)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    return value;
                case JsonValueKind.String:
                    var text = value.GetString();
                    if (string.IsNullOrWhiteSpace(text))
                    {
                        return null;
                    }

                    try
                    {
                        using var document = JsonDocument.Parse(text);
                        value = document.RootElement.Clone();
                    }
                    catch (JsonException)
                    {
                        return null;
                    }

                    break;
                default:
                    return null;
            }
        }

        return null;
    }
}
