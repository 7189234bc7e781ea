using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Pipeline.Serving.Http;

/// <summary>
/// Section <c>Http</c>. In Azure the Functions host checks <c>x-functions-key</c> (function.json <c>authLevel</c>) before
/// proxying to this handler, which listens on 127.0.0.1 only, so <see cref="FunctionKey"/> stays unset there. Locally
/// (no host in front) the handler checks the same header against <see cref="FunctionKey"/>, so clients behave the same.
/// </summary>
public sealed class FunctionKeyOptions
{
    public const string Section = "Http";

    /// <summary>Key required in <c>x-functions-key</c> (or <c>?code=</c>) on <c>/api/*</c> except health and the OpenAPI document; unset = not checked here.</summary>
    [StringLength(256, MinimumLength = 16)]
    public string? FunctionKey { get; set; }
}

/// <summary>Validates <see cref="FunctionKeyOptions"/>, generated at compile time (no reflection).</summary>
[OptionsValidator]
public sealed partial class FunctionKeyOptionsValidator : IValidateOptions<FunctionKeyOptions>;
