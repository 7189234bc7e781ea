using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Cli.Target;

/// <summary>
/// The serving app's HTTP API (README, "HTTP API"): JSON in and out, the function key in <c>x-functions-key</c> (the admin
/// key for <c>POST /api/models/{name}/current</c>). Problem details become <see cref="CliException"/>s with the
/// server's own title and detail.
/// </summary>
public sealed class ServingClient : IDisposable
{
    public const string KeyHeader = "x-functions-key";

    /// <summary>Attempts of a request answered 429 or 503 with <c>Retry-After</c> (a version loading, a load limit).</summary>
    private const int MaxAttempts = 4;

    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http;
    private readonly string? _key;
    private readonly string? _adminKey;

    public ServingClient(Uri baseUrl, string? key, string? adminKey)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        BaseUrl = baseUrl;
        _http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(100) };
        _key = key;
        _adminKey = adminKey;
    }

    public Uri BaseUrl { get; }

    public Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, null, admin: false, cancellationToken);

    public Task<JsonNode> PostAsync(string path, JsonNode body, bool admin, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, body, admin, cancellationToken);

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, JsonNode? body, bool admin, CancellationToken cancellationToken)
    {
        var key = admin ? _adminKey : _key;
        if (admin && key is null)
        {
            throw new CliException(ExitCode.Unauthorized, "This is an admin operation: pass --admin-key (the serving app's master key: az functionapp keys list -n $SERVING_APP_NAME -g $AZURE_RESOURCE_GROUP --query masterKey -o tsv) or set PIPELINE_ADMIN_KEY.");
        }

        var payload = body?.ToJsonString();
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, path.TrimStart('/'));
            if (key is not null)
            {
                request.Headers.Add(KeyHeader, key);
            }

            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (payload is not null)
            {
                request.Content = new StringContent(payload, Encoding.UTF8, "application/json");
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new CliException(ExitCode.Unreachable, $"The serving app at {BaseUrl} could not be reached ({e.Message}). Is it running (./run-local.sh), and is --serving-url right?", e);
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new CliException(ExitCode.TimedOut, $"The serving app at {BaseUrl} did not answer {method} {path} within {_http.Timeout.TotalSeconds:0} s.", e);
            }

            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return ParseJson(text, method, path);
                }

                var retryAfter = response.Headers.RetryAfter?.Delta;
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable && retryAfter is { } delay && attempt < MaxAttempts)
                {
                    await Task.Delay(delay < MaxRetryAfter ? delay : MaxRetryAfter, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                throw Problem(response.StatusCode, text, method, path, admin);
            }
        }
    }

    private JsonNode ParseJson(string text, HttpMethod method, string path)
    {
        try
        {
            return JsonNode.Parse(text) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCode.Failed, $"{method} {BaseUrl}{path.TrimStart('/')} answered something that is not JSON; is --serving-url the pipeline's serving app?", e);
        }
    }

    private static CliException Problem(HttpStatusCode status, string text, HttpMethod method, string path, bool admin)
    {
        string? title = null, detail = null;
        try
        {
            if (JsonNode.Parse(text) is JsonObject problem)
            {
                title = (string?)problem["title"];
                detail = (string?)problem["detail"];
            }
        }
        catch (JsonException)
        {
            // Not problem details (a proxy's error page): the status says enough.
        }

        var said = (title, detail) switch
        {
            (null, null) => $"{(int)status} {status}",
            (_, null) => title,
            (null, _) => detail,
            _ => $"{title}: {detail}",
        };
        var code = (int)status;
        return status switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new CliException(ExitCode.Unauthorized,
                $"The serving app refused the {(admin ? "admin key" : "key")} ({code}, {said}). Pass the right one with {(admin ? "--admin-key or PIPELINE_ADMIN_KEY" : "--key or PIPELINE_KEY")}."),
            HttpStatusCode.NotFound => new CliException(ExitCode.NotFound, said),
            HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity => new CliException(ExitCode.Usage, $"{said} ({code})"),
            _ => new CliException(ExitCode.Failed, $"{method} {path} failed: {said} ({code})"),
        };
    }

    public void Dispose() => _http.Dispose();
}
