process FETCH_MODEL {
    tag "${hub_id}"
    label 'process_single'

    input:
    val hub_id   // e.g. EleutherAI/enformer-official-rough

    output:
    path "${hub_id.tokenize('/')[-1]}", emit: model   // named as on the hub: the model keeps its settings
    path 'versions.yml',               emit: versions

    script:
    """
    seqgx fetch-model --model ${hub_id} --out ${hub_id.tokenize('/')[-1]}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        huggingface_hub: \$(python -c 'import huggingface_hub; print(huggingface_hub.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${hub_id.tokenize('/')[-1]}
    echo '{}' > ${hub_id.tokenize('/')[-1]}/config.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
