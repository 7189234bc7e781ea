using System.Text.RegularExpressions;

namespace Pipeline.Serving.Http;

/// <summary>Makes third-party error text (ONNX Runtime, storage) safe to show a client: no file system paths, bounded length.</summary>
public static partial class ProblemText
{
    private const int MaxLength = 300;

    public static string Sanitize(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var text = AbsolutePath().Replace(message, "<path>").ReplaceLineEndings(" ").Trim();
        return text.Length <= MaxLength ? text : text[..MaxLength] + "…";
    }

    // /a/b, C:\a\b, and ORT's "onnxruntime/core/…/x.cc:123" source locations.
    [GeneratedRegex(@"(?:[A-Za-z]:)?(?:[\\/][\w.\-+@~]+){2,}(?::\d+)?|\b[\w.\-]+(?:/[\w.\-]+)+\.(?:cc|cpp|h|cs|py):\d+")]
    private static partial Regex AbsolutePath();
}
