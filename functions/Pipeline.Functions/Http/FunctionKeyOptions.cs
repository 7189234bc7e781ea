using System.ComponentModel.DataAnnotations;

namespace Pipeline.Functions.Http;

/// <summary>
/// Section <c>Http</c>. In Azure the Functions host checks <c>x-functions-key</c> (function.json <c>authLevel</c>) before
/// proxying to this handler, which listens on 127.0.0.1 only, so <see cref="FunctionKey"/> stays unset there. Locally
/// (no host in front) the handler checks the same header against <see cref="FunctionKey"/>, so clients behave the same.
/// </summary>
public sealed class FunctionKeyOptions
{
    public const string Section = "Http";

    /// <summary>Key required in <c>x-functions-key</c> (or <c>?code=</c>) on <c>/api/*</c> except health and the OpenAPI document; unset = not checked here.</summary>
    [MinLength(16)]
    public string? FunctionKey { get; set; }
}
