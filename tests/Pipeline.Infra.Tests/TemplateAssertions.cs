namespace Pipeline.Infra.Tests;

internal static class TemplateAssertions
{
    /// <summary>Follows a path of property names; fails the test with the path when a step is missing.</summary>
    public static JsonElement At(this JsonElement element, params string[] path)
    {
        var current = element;
        foreach (var name in path)
        {
            Assert.True(
                current.ValueKind == JsonValueKind.Object && current.TryGetProperty(name, out current),
                $"Missing '{string.Join('.', path)}' (stopped at '{name}').");
        }

        return current;
    }

    public static string StringAt(this JsonElement element, params string[] path) =>
        element.At(path).GetString() ?? throw new InvalidOperationException($"'{string.Join('.', path)}' is null.");

    /// <summary>The root template's declaration of a parameter (type, defaultValue, allowedValues, minValue...).</summary>
    public static JsonElement RootParameter(this CompiledTemplate template, string name) =>
        template.Root.At("parameters", name);

    /// <summary>Which module deployment a resolved expression reads its value from, e.g. 'trainer-identity'.</summary>
    public static bool ComesFromModule(this string expression, string moduleName) =>
        expression.Contains($"'Microsoft.Resources/deployments', '{moduleName}')", StringComparison.Ordinal);
}
