process ISM {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    tuple val(batch_id), path(haplotypes)
    path model_file         // [] unless params.model is a local file or directory
    path finetuned_weights  // [] when not given
    path track_names        // [] when not given

    output:
    tuple val(batch_id), path('ism/*.ism.tsv'),       emit: ism
    path 'ism/*.saturation.npz', optional: true,      emit: saturation
    path 'ism/*.gradients.npz', optional: true,       emit: gradients
    path 'versions.yml',                              emit: versions

    script:
    def model    = model_file ? "${model_file}" : ''
    def hub      = model_file ? '' : "${params.model}"
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    def hparams  = params.hparams ? "--hparams '${params.hparams}'" : ''
    def provs    = params.providers ? "--providers ${params.providers}" : ''
    def tracks   = params.tracks ? "--tracks '${params.tracks}'" : ''
    def fallback = params.allow_cpu_fallback ? "--allow-cpu-fallback" : ''
    def revcomp  = params.reverse_complement ? "--reverse-complement" : ''
    def fullfwd  = params.allow_full_forward ? "--allow-full-forward" : ''
    def grads    = params.gradients ? "--gradients" : ''
    """
    seqgx ism \\
        --haplotypes ${haplotypes} \\
        --model ${model}${hub} ${hparams} ${names} ${weights} ${tracks} \\
        --backend ${params.backend} ${provs} --device ${params.device} --precision ${params.precision} \\
        ${fallback} --bins ${params.bins} --pseudocount ${params.pseudocount} \\
        --batch-size ${params.batch_size} --max-shift ${params.max_shift} ${revcomp} --seed ${params.seed} \\
        --method ${params.ism_method} ${fullfwd} ${grads} --tss-window ${params.tss_window} \\
        --out ism

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ism
    touch ism/stub.ism.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
